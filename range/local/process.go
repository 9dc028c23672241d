package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	cyberrange "github.com/cyrange/cyrange/range"
)

// Start runs the container's command with the driver's binary, unless a
// process of it is already running (then it does nothing, whatever spec
// that process was started from: recreating is the orchestrator's call).
// A container that exited is started again from c, keeping the host ports
// it was given.
//
// A port published on port 0 (Publish "127.0.0.1:0") gets a free port of
// that host, and every argument of the command equal to the Publish
// address, or ending in "="+Publish, is rewritten to the address chosen:
// that is how a gateway's --listen learns its port. Status reports it.
func (d *Driver) Start(ctx context.Context, c cyberrange.Container) error {
	if err := d.checkContainer(c); err != nil {
		return fmt.Errorf("local: start %s: %w", c.Name, err)
	}
	unlock, err := d.lock(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	if err := d.checkAttachments(c); err != nil {
		return fmt.Errorf("local: start %s: %w", c.Name, err)
	}
	prev, err := d.readContainer(c.Name)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("local: start %s: %w", c.Name, err)
	}
	restarts := 0
	var prevPorts map[string]string
	recorded := ""
	if prev != nil {
		if prev.alive() {
			if prev.Removing {
				return fmt.Errorf("local: start %s: being removed", c.Name)
			}
			if h := specHash(c); h != prev.SpecHash {
				d.logger.Warn("local: already running from another spec; remove it to apply the new one", "name", c.Name)
			}
			return nil
		}
		recorded = prev.Binary
		if !prev.Removing {
			restarts = prev.Restarts
			if prev.Process.Pid != 0 { // else it never got to run
				restarts++
			}
			prevPorts = prev.Ports
		}
	}
	// A process an orchestrator killed in the middle of a start left
	// behind holds the container's addresses: it goes first.
	if err := d.endStrays(ctx, c.Name, recorded); err != nil {
		return fmt.Errorf("local: start %s: %w", c.Name, err)
	}
	ports, argv, err := publish(c, prevPorts)
	if err != nil {
		return fmt.Errorf("local: start %s: %w", c.Name, err)
	}
	dir := d.containerDir(c.Name)
	// Recorded before its process exists: were this orchestrator killed
	// before it records the process, the container is still listed (as
	// exited), so that the next Start, or Remove, finds the process by its
	// directory and ends it (endStrays) rather than leave it running
	// unknown to anyone.
	rec := containerRecord{
		Version: stateVersion, Container: c, SpecHash: specHash(c), Binary: d.o.Binary, Argv: argv,
		Ports: ports, Restarts: restarts,
	}
	if prev == nil {
		err = d.makeContainerDir(dir, rec)
	} else {
		err = writeJSON(filepath.Join(dir, "state.json"), rec)
	}
	if err != nil {
		return fmt.Errorf("local: start %s: %w", c.Name, err)
	}
	out, err := os.OpenFile(filepath.Join(dir, "output.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("local: start %s: %w", c.Name, err)
	}
	defer out.Close()
	cmd := &exec.Cmd{
		Path:   d.o.Binary,
		Args:   append([]string{d.o.Binary}, argv...),
		Env:    environ(c.Env),
		Dir:    dir,
		Stdout: out,
		Stderr: out,
		// Its own process group: a ^C at the orchestrator's terminal does
		// not reach it, Remove can stop all it started, and it outlives
		// the orchestrator so that a new one can adopt it.
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("local: start %s: %w", c.Name, err)
	}
	if d.spawned != nil {
		d.spawned()
	}
	id := identity{Pid: cmd.Process.Pid}
	st, err := readStat(id.Pid)
	id.StartTicks = st.StartTicks
	if err != nil {
		syscall.Kill(-id.Pid, syscall.SIGKILL)
		cmd.Wait()
		return fmt.Errorf("local: start %s: %w", c.Name, err)
	}
	rec.Process, rec.Started = id, d.o.Now()
	if err := writeJSON(filepath.Join(dir, "state.json"), rec); err != nil {
		syscall.Kill(-id.Pid, syscall.SIGKILL)
		cmd.Wait()
		return fmt.Errorf("local: start %s: %w", c.Name, err)
	}
	os.Remove(filepath.Join(dir, "exit.json"))
	d.logger.Info("local: started", "name", c.Name, "pid", id.Pid, "restarts", restarts)
	go d.reap(c.Name, cmd, id)
	return nil
}

// makeContainerDir makes a container's directory with its record in one
// rename, so that a Start killed half-way never leaves a directory
// without a record, which List could not name and Down would not remove.
// What such a Start leaves is in the scratch directory, which the next
// one clears: every user of it holds the state lock. A directory without
// a record left by an earlier version goes the same way.
func (d *Driver) makeContainerDir(dir string, rec containerRecord) error {
	scratch := filepath.Join(d.o.StateDir, "scratch")
	if err := os.RemoveAll(scratch); err != nil {
		return err
	}
	tmp := filepath.Join(scratch, "container")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(tmp, "state.json"), rec); err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return err
	}
	return os.Rename(tmp, dir)
}

// reap waits for a process this driver started and records how it ended,
// if its record still describes it.
func (d *Driver) reap(name string, cmd *exec.Cmd, id identity) {
	cmd.Wait()
	code := -1
	if ps := cmd.ProcessState; ps != nil {
		code = ps.ExitCode()
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			// As a shell and Docker report it.
			code = 128 + int(ws.Signal())
		}
	}
	d.logger.Info("local: process ended", "name", name, "pid", id.Pid, "exit_code", code)
	unlock, err := d.lock(context.Background())
	if err != nil {
		d.logger.Warn("local: recording an exit", "name", name, "err", err)
		return
	}
	defer unlock()
	r, err := d.readContainer(name)
	if err != nil || r.Process != id {
		return
	}
	if err := writeJSON(filepath.Join(d.containerDir(name), "exit.json"), exitRecord{Process: id, Code: code, At: d.o.Now()}); err != nil {
		d.logger.Warn("local: recording an exit", "name", name, "err", err)
	}
}

// Remove stops the container's process group (SIGTERM, then SIGKILL after
// the grace period) and deletes its record and output. Removing what does
// not exist is not an error.
func (d *Driver) Remove(ctx context.Context, name string) error {
	if err := checkName(name); err != nil {
		return fmt.Errorf("local: remove: %w", err)
	}
	// A few rounds in case somebody starts it again while it stops.
	for range 3 {
		unlock, err := d.lock(ctx)
		if err != nil {
			return err
		}
		r, err := d.readContainer(name)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			d.logger.Warn("local: removing an unreadable record", "name", name, "err", err)
		}
		if r == nil || !r.alive() {
			recorded := ""
			if r != nil {
				recorded = r.Binary
			}
			err := d.endStrays(ctx, name, recorded)
			if err == nil {
				err = os.RemoveAll(d.containerDir(name))
			}
			unlock()
			if err != nil {
				return fmt.Errorf("local: remove %s: %w", name, err)
			}
			return nil
		}
		r.Removing = true
		err = writeJSON(filepath.Join(d.containerDir(name), "state.json"), r)
		unlock()
		if err != nil {
			return fmt.Errorf("local: remove %s: %w", name, err)
		}
		if err := d.stop(ctx, name, r.Process); err != nil {
			return err
		}
	}
	return fmt.Errorf("local: remove %s: started again while being removed", name)
}

// Kill ends the container's processes with SIGKILL, as a crash would,
// and leaves the container listed as exited (rangetest.Killer).
func (d *Driver) Kill(ctx context.Context, name string) error {
	if err := checkName(name); err != nil {
		return fmt.Errorf("local: kill: %w", err)
	}
	r, err := d.readContainer(name)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("local: kill %s: %w", name, cyberrange.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("local: kill %s: %w", name, err)
	}
	if err := r.Process.signal(syscall.SIGKILL); err != nil {
		return fmt.Errorf("local: kill %s: %w", name, err)
	}
	return d.waitGone(ctx, name, r.Process, 5*time.Second)
}

func (d *Driver) stop(ctx context.Context, name string, id identity) error {
	if err := id.signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("local: stop %s: %w", name, err)
	}
	if err := d.waitGone(ctx, name, id, d.o.StopGrace); err == nil || ctx.Err() != nil {
		return err
	}
	d.logger.Warn("local: did not stop on SIGTERM, killing", "name", name, "pid", id.Pid, "grace", d.o.StopGrace)
	if err := id.signal(syscall.SIGKILL); err != nil {
		return fmt.Errorf("local: stop %s: %w", name, err)
	}
	return d.waitGone(ctx, name, id, 5*time.Second)
}

func (d *Driver) waitGone(ctx context.Context, name string, id identity, limit time.Duration) error {
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for id.alive() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("local: stop %s: %w", name, ctx.Err())
		case <-deadline.C:
			return fmt.Errorf("local: stop %s: pid %d still running after %v", name, id.Pid, limit)
		case <-tick.C:
		}
	}
	return nil
}

// alive reports whether the process still runs: same pid, same start
// time, and not (or not wholly) a zombie. The leader of a multi-threaded
// process turns zombie before its other threads are gone, and they hold
// its files (its listening sockets) until they are: a process is dead
// once it is a zombie with one thread left.
func (id identity) alive() bool {
	if id.Pid <= 0 {
		return false
	}
	st, err := readStat(id.Pid)
	if err != nil || st.StartTicks != id.StartTicks {
		return false
	}
	return !(st.State == 'Z' || st.State == 'X') || st.Threads > 1
}

// signal sends sig to the process's group, if the process is still the
// one recorded: never to a stranger that got its pid.
func (id identity) signal(sig syscall.Signal) error {
	if !id.alive() {
		return nil
	}
	if err := syscall.Kill(-id.Pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}

// procStat is what the driver reads of /proc/<pid>/stat.
type procStat struct {
	State      byte
	Threads    int
	StartTicks uint64
}

func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	return parseStat(b)
}

// parseStat reads the state (field 3), number of threads (field 20) and
// start time (field 22) of a /proc/<pid>/stat line. The command name
// (field 2) is in parentheses and may itself hold spaces and parentheses,
// so fields are counted from the last ')'.
func parseStat(b []byte) (procStat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, errors.New("local: /proc stat: no command name")
	}
	fields := strings.Fields(string(b[i+1:]))
	field := func(n int) string { return fields[n-3] } // fields[0] is field 3
	if len(fields) < 22-2 || len(field(3)) != 1 {
		return procStat{}, errors.New("local: /proc stat: too few fields")
	}
	st := procStat{State: field(3)[0]}
	threads, err := strconv.ParseUint(field(20), 10, 31)
	if err != nil {
		return procStat{}, fmt.Errorf("local: /proc stat: threads: %w", err)
	}
	st.Threads = int(threads)
	if st.StartTicks, err = strconv.ParseUint(field(22), 10, 64); err != nil {
		return procStat{}, fmt.Errorf("local: /proc stat: start time: %w", err)
	}
	return st, nil
}

func (d *Driver) checkContainer(c cyberrange.Container) error {
	if err := checkName(c.Name); err != nil {
		return err
	}
	if len(c.Command) == 0 {
		return fmt.Errorf("%w: no command", cyberrange.ErrInvalid)
	}
	if c.Labels[cyberrange.LabelExercise] == "" {
		return fmt.Errorf("%w: no %s label", cyberrange.ErrInvalid, cyberrange.LabelExercise)
	}
	return checkEnv(c.Env)
}

// checkEnv refuses what cannot be an environment variable.
func checkEnv(env map[string]string) error {
	for k, v := range env {
		if k == "" || strings.ContainsAny(k, "=\x00") || strings.ContainsRune(v, 0) {
			return fmt.Errorf("%w: bad environment variable %q", cyberrange.ErrInvalid, k)
		}
	}
	return nil
}

// checkAttachments makes sure every attachment is on a recorded network,
// at an address of its subnet: the process binds it itself.
func (d *Driver) checkAttachments(c cyberrange.Container) error {
	for _, a := range c.Networks {
		var n networkRecord
		if err := readJSON(d.networkPath(a.Network), &n); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("network %s: %w", a.Network, cyberrange.ErrNotFound)
			}
			return err
		}
		if !n.Subnet.Contains(a.Address) {
			return fmt.Errorf("%w: address %s is not in network %s (%s)", cyberrange.ErrInvalid, a.Address, a.Network, n.Subnet)
		}
	}
	return nil
}

// publish picks the host address of every published port and rewrites
// the command to match; prev are the ports an earlier run got, kept when
// still free so that a restarted gateway stays where its team knows it.
func publish(c cyberrange.Container, prev map[string]string) (map[string]string, []string, error) {
	argv := slices.Clone(c.Command)
	var ports map[string]string
	for _, p := range c.Ports {
		if p.Publish == "" {
			continue
		}
		ap, err := netip.ParseAddrPort(p.Publish)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: port %s: publish %q: %v", cyberrange.ErrInvalid, p.Name, p.Publish, err)
		}
		got := p.Publish
		if ap.Port() == 0 {
			if got, err = pickPort(ap.Addr(), prev[p.Name]); err != nil {
				return nil, nil, fmt.Errorf("port %s: %w", p.Name, err)
			}
			found := false
			for i, a := range argv {
				if a == p.Publish || strings.HasPrefix(a, "-") && strings.HasSuffix(a, "="+p.Publish) {
					argv[i] = strings.TrimSuffix(a, p.Publish) + got
					found = true
				}
			}
			if !found {
				return nil, nil, fmt.Errorf("%w: port %s is published on %s but the command never mentions it", cyberrange.ErrInvalid, p.Name, p.Publish)
			}
		}
		if ports == nil {
			ports = map[string]string{}
		}
		ports[p.Name] = got
	}
	return ports, argv, nil
}

// pickPort returns prev when it is on host and free, else a free port of
// host chosen by the kernel.
func pickPort(host netip.Addr, prev string) (string, error) {
	if ap, err := netip.ParseAddrPort(prev); err == nil && ap.Addr() == host {
		if ln, err := net.Listen("tcp", prev); err == nil {
			ln.Close()
			return prev, nil
		}
	}
	ln, err := net.Listen("tcp", netip.AddrPortFrom(host, 0).String())
	if err != nil {
		return "", fmt.Errorf("no free port on %s: %w", host, err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// environ is exactly the container's environment, as Docker would give
// it: nothing of the orchestrator's own (its secrets included) leaks in.
func environ(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}
