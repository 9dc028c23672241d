package local

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	cyberrange "github.com/cyrange/cyrange/range"
)

// stateVersion is the version of the records' format; a record of
// another version is reported, not guessed at.
const stateVersion = 1

type networkRecord struct {
	Version int               `json:"version"`
	Name    string            `json:"name"`
	Subnet  netip.Prefix      `json:"subnet"`
	Team    int               `json:"team"`
	Labels  map[string]string `json:"labels"`
}

// containerRecord is a container's state.json: what was asked for and
// which process runs it.
type containerRecord struct {
	Version   int                  `json:"version"`
	Container cyberrange.Container `json:"container"`
	// SpecHash identifies Container, to tell a running process started
	// from another spec.
	SpecHash string    `json:"spec_hash"`
	Binary   string    `json:"binary"`
	Argv     []string  `json:"argv"`
	Process  identity  `json:"process"`
	Started  time.Time `json:"started"`
	// Ports maps each published port's name to the host address it got.
	Ports    map[string]string `json:"ports,omitempty"`
	Restarts int               `json:"restarts"`
	// Removing is set by Remove before it stops the process, so that
	// nothing starts it again meanwhile.
	Removing bool `json:"removing,omitempty"`

	// exit is read from exit.json when it is about this process.
	exit *exitRecord
}

// identity is one process: its pid and the kernel's start time for it
// (clock ticks since boot), which a recycled pid does not share.
type identity struct {
	Pid        int    `json:"pid"`
	StartTicks uint64 `json:"start_ticks"`
}

// exitRecord is written when a process the driver started ends.
type exitRecord struct {
	Process identity  `json:"process"`
	Code    int       `json:"code"`
	At      time.Time `json:"at"`
}

func (r *containerRecord) alive() bool { return r.Process.alive() }

func (r *containerRecord) status() cyberrange.ContainerStatus {
	st := cyberrange.ContainerStatus{
		Name:     r.Container.Name,
		Kind:     r.Container.Kind,
		State:    cyberrange.StateExited,
		Labels:   cloneMap(r.Container.Labels),
		Restarts: r.Restarts,
		Started:  r.Started,
		ExitCode: -1,
		Ports:    cloneMap(r.Ports),
		Networks: []string{},
	}
	for _, a := range r.Container.Networks {
		st.Networks = append(st.Networks, a.Network)
	}
	switch {
	case r.alive():
		st.State, st.ExitCode = cyberrange.StateRunning, 0
	case r.exit != nil:
		st.ExitCode = r.exit.Code
	}
	return st
}

// specHash identifies a container spec.
func specHash(c cyberrange.Container) string {
	b, _ := json.Marshal(c)
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:12])
}

func (d *Driver) readContainer(name string) (*containerRecord, error) {
	var r containerRecord
	if err := readJSON(filepath.Join(d.containerDir(name), "state.json"), &r); err != nil {
		return nil, err
	}
	if r.Version != stateVersion {
		return nil, fmt.Errorf("local: %s: state version %d, this build reads %d", name, r.Version, stateVersion)
	}
	var e exitRecord
	if err := readJSON(filepath.Join(d.containerDir(name), "exit.json"), &e); err == nil && e.Process == r.Process {
		r.exit = &e
	}
	return &r, nil
}

// containerRecords reads every container's record, sorted by name.
// Directories without a readable record (a Start that failed half-way)
// are skipped.
func (d *Driver) containerRecords() ([]*containerRecord, error) {
	entries, err := os.ReadDir(filepath.Join(d.o.StateDir, "containers"))
	if err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	var out []*containerRecord
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		r, err := d.readContainer(e.Name())
		if err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				d.logger.Warn("local: unreadable container record", "name", e.Name(), "err", err)
			}
			continue
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Container.Name < out[j].Container.Name })
	return out, nil
}

func (d *Driver) networkRecords() ([]networkRecord, error) {
	entries, err := os.ReadDir(filepath.Join(d.o.StateDir, "networks"))
	if err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	var out []networkRecord
	for _, e := range entries {
		if e.IsDir() || filepath.Ext(e.Name()) != ".json" {
			continue
		}
		var n networkRecord
		if err := readJSON(filepath.Join(d.o.StateDir, "networks", e.Name()), &n); err != nil {
			if !errors.Is(err, os.ErrNotExist) {
				d.logger.Warn("local: unreadable network record", "file", e.Name(), "err", err)
			}
			continue
		}
		out = append(out, n)
	}
	return out, nil
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// writeJSON replaces path atomically, readable by the owner only: records
// hold the containers' environment, secrets included.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// lock takes the state directory's lock, shared by every driver and
// process using it; it is held only around reading and writing records,
// never while waiting for a process.
func (d *Driver) lock(ctx context.Context) (func(), error) {
	// Not created here: New makes it, and a state directory deleted under
	// a driver must not come back as a lonely lock file.
	f, err := os.OpenFile(filepath.Join(d.o.StateDir, "lock"), os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("local: lock: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			f.Close()
			return nil, fmt.Errorf("local: lock: %w", err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("local: lock: %w", ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
}
