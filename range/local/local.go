// Package local is the range's Driver that runs a plan as local processes
// of the cyrange binary, each on its own loopback address (127.x.y.z needs
// no setup on Linux), so that an exercise runs without Docker.
//
// The state directory is the label store: a record per network and per
// container, which is how a restarted orchestrator finds (adopts) the
// processes an earlier one started. Processes run in their own process
// group, detached from the orchestrator, and survive it:
//
//	<StateDir>/lock                          serialises changes (flock)
//	<StateDir>/networks/<name>.json          a network: name, subnet, labels
//	<StateDir>/containers/<name>/state.json  spec, argv, pid, start time, ports
//	<StateDir>/containers/<name>/exit.json   how the process last ended
//	<StateDir>/containers/<name>/output.log  its stdout and stderr
//
// A process is identified by its pid and the start time the kernel gives
// it (/proc/<pid>/stat), so a recycled pid is never taken for a range
// process. A container is recorded before its process is started, so a
// record without a process is a start its orchestrator did not live to
// finish: the process it may have spawned runs in the container's
// directory, which is how the next Start or Remove finds and ends it.
// Limits and ReadOnly are not enforced locally.
//
// It must never import the Docker SDK, the scoreboard, or a role's package.
package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	cyberrange "github.com/cyrange/cyrange/range"
)

var _ cyberrange.Driver = (*Driver)(nil)

// Defaults for the Options left zero.
const (
	DefaultStopGrace    = 5 * time.Second
	DefaultPollInterval = 200 * time.Millisecond
)

// loopback is where every local address of the range lives.
var loopback = netip.MustParsePrefix("127.0.0.0/8")

// Options configure a Driver.
type Options struct {
	// Binary is the cyrange binary the containers' commands run with; the
	// running executable when empty.
	Binary string
	// StateDir holds the driver's records and the processes' output
	// (e.g. <data>/range); created if missing.
	StateDir string
	Logger   *slog.Logger
	Now      func() time.Time
	// StopGrace is how long Remove waits after SIGTERM before SIGKILL;
	// PollInterval how often Events and Logs look for changes.
	StopGrace    time.Duration
	PollInterval time.Duration
}

// Driver runs containers as local processes.
type Driver struct {
	o      Options
	logger *slog.Logger

	// spawned, when set, is called by Start once the process exists and
	// before it is recorded: the tests die there, as an orchestrator
	// killed at that moment would.
	spawned func()
}

// New returns a driver keeping its state in o.StateDir.
func New(o Options) (*Driver, error) {
	if o.StateDir == "" {
		return nil, fmt.Errorf("local: %w: no state directory", cyberrange.ErrInvalid)
	}
	if o.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("local: finding the cyrange binary: %w", err)
		}
		o.Binary = exe
	}
	bin, err := filepath.Abs(o.Binary)
	if err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	o.Binary = bin
	if st, err := os.Stat(o.Binary); err != nil {
		return nil, fmt.Errorf("local: binary: %w", err)
	} else if st.IsDir() || st.Mode()&0o111 == 0 {
		return nil, fmt.Errorf("local: %w: %s is not an executable", cyberrange.ErrInvalid, o.Binary)
	}
	if o.StateDir, err = filepath.Abs(o.StateDir); err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	for _, dir := range []string{o.StateDir, filepath.Join(o.StateDir, "networks"), filepath.Join(o.StateDir, "containers")} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("local: state directory: %w", err)
		}
	}
	lf, err := os.OpenFile(filepath.Join(o.StateDir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("local: state directory: %w", err)
	}
	lf.Close()
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		return nil, fmt.Errorf("local: %w: needs /proc (Linux): %v", cyberrange.ErrUnavailable, err)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.StopGrace <= 0 {
		o.StopGrace = DefaultStopGrace
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	return &Driver{o: o, logger: o.Logger.With("driver", "local")}, nil
}

// Name is "local".
func (d *Driver) Name() string { return "local" }

// EnsureNetwork records the network; loopback addresses need no setup.
// The subnet must lie in 127.0.0.0/8. A network that exists with the same
// subnet has its labels updated; with another subnet it is an error.
func (d *Driver) EnsureNetwork(ctx context.Context, n cyberrange.Network) error {
	if err := checkName(n.Name); err != nil {
		return fmt.Errorf("local: network: %w", err)
	}
	if !n.Subnet.IsValid() || !n.Subnet.Addr().Is4() || n.Subnet.Bits() < loopback.Bits() || !loopback.Contains(n.Subnet.Addr()) {
		return fmt.Errorf("local: network %s: %w: subnet %s is not in %s", n.Name, cyberrange.ErrInvalid, n.Subnet, loopback)
	}
	if n.Labels[cyberrange.LabelExercise] == "" {
		return fmt.Errorf("local: network %s: %w: no %s label", n.Name, cyberrange.ErrInvalid, cyberrange.LabelExercise)
	}
	unlock, err := d.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	var old networkRecord
	switch err := readJSON(d.networkPath(n.Name), &old); {
	case err == nil && old.Subnet != n.Subnet.Masked():
		return fmt.Errorf("local: network %s: %w: exists with subnet %s, not %s", n.Name, cyberrange.ErrInvalid, old.Subnet, n.Subnet)
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("local: network %s: %w", n.Name, err)
	}
	rec := networkRecord{Version: stateVersion, Name: n.Name, Subnet: n.Subnet.Masked(), Labels: n.Labels, Team: n.Team}
	if err := writeJSON(d.networkPath(n.Name), rec); err != nil {
		return fmt.Errorf("local: network %s: %w", n.Name, err)
	}
	return nil
}

// RemoveNetwork forgets the network. It fails while a running container
// is attached to it, as a Docker network with endpoints would.
func (d *Driver) RemoveNetwork(ctx context.Context, name string) error {
	if err := checkName(name); err != nil {
		return fmt.Errorf("local: network: %w", err)
	}
	unlock, err := d.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	recs, err := d.containerRecords()
	if err != nil {
		return err
	}
	for _, r := range recs {
		for _, a := range r.Container.Networks {
			if a.Network == name && r.alive() {
				return fmt.Errorf("local: network %s: in use by running %s", name, r.Container.Name)
			}
		}
	}
	if err := os.Remove(d.networkPath(name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("local: network %s: %w", name, err)
	}
	return nil
}

// List returns the networks and containers labelled with exercise.
func (d *Driver) List(ctx context.Context, exercise string) (cyberrange.Actual, error) {
	var out cyberrange.Actual
	if err := ctx.Err(); err != nil {
		return out, fmt.Errorf("local: list: %w", err)
	}
	nets, err := d.networkRecords()
	if err != nil {
		return out, err
	}
	for _, n := range nets {
		if n.Labels[cyberrange.LabelExercise] == exercise {
			out.Networks = append(out.Networks, cyberrange.NetworkStatus{Name: n.Name, Subnet: n.Subnet, Labels: cloneMap(n.Labels)})
		}
	}
	recs, err := d.containerRecords()
	if err != nil {
		return out, err
	}
	for _, r := range recs {
		if r.Container.Labels[cyberrange.LabelExercise] == exercise {
			out.Containers = append(out.Containers, r.status())
		}
	}
	return out, nil
}

func (d *Driver) networkPath(name string) string {
	return filepath.Join(d.o.StateDir, "networks", name+".json")
}

func (d *Driver) containerDir(name string) string {
	return filepath.Join(d.o.StateDir, "containers", name)
}

// checkName keeps names usable as file names and recognisable as the
// plan's: letters, digits, '-', '_' and '.', not starting with '.'.
func checkName(name string) error {
	if name == "" || len(name) > 128 || name[0] == '.' {
		return fmt.Errorf("%w: bad name %q", cyberrange.ErrInvalid, name)
	}
	for _, c := range name {
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '-' && c != '_' && c != '.' {
			return fmt.Errorf("%w: bad name %q", cyberrange.ErrInvalid, name)
		}
	}
	return nil
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
