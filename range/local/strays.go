package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// strays are the live processes of container name, called when its
// record names no live process: a process spawned by an orchestrator that
// was killed before it could record it, or a command Exec runs there. The driver starts every process
// of a container in the container's own directory, so they are found by
// their working directory, and by running the driver's binary (or the one
// the record names, recorded), so that nobody else's process is ever
// taken for one.
func (d *Driver) strays(name, recorded string) []identity {
	dir := d.containerDir(name)
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	// The kernel names a process's binary by its real path.
	binaries := map[string]bool{}
	for _, b := range []string{d.o.Binary, recorded} {
		if real, err := filepath.EvalSymlinks(b); err == nil {
			binaries[real] = true
		} else if b != "" {
			binaries[b] = true
		}
	}
	var out []identity
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		proc := filepath.Join("/proc", e.Name())
		cwd, err := os.Readlink(filepath.Join(proc, "cwd"))
		if err != nil || strings.TrimSuffix(cwd, " (deleted)") != dir {
			continue
		}
		exe, err := os.Readlink(filepath.Join(proc, "exe"))
		if err != nil || !binaries[strings.TrimSuffix(exe, " (deleted)")] {
			continue
		}
		st, err := readStat(pid)
		if err != nil {
			continue
		}
		if id := (identity{Pid: pid, StartTicks: st.StartTicks}); id.alive() {
			out = append(out, id)
		}
	}
	return out
}

// endStrays kills container name's strays (see strays) and waits until
// they are gone. The caller holds the lock, so nothing starts meanwhile.
func (d *Driver) endStrays(ctx context.Context, name, recorded string) error {
	for _, id := range d.strays(name, recorded) {
		// A process an earlier orchestrator started and never recorded,
		// or a command Exec ran in a container that is gone.
		d.logger.Warn("local: ending a process left in the container", "name", name, "pid", id.Pid)
		// Its own process group, as Start makes it, or the process alone.
		target := id.Pid
		if pgid, err := syscall.Getpgid(id.Pid); err == nil && pgid == id.Pid {
			target = -id.Pid
		}
		if !id.alive() {
			continue
		}
		if err := syscall.Kill(target, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			return fmt.Errorf("local: %s: ending pid %d: %w", name, id.Pid, err)
		}
		if err := d.waitGone(ctx, name, id, 5*time.Second); err != nil {
			return err
		}
	}
	return nil
}
