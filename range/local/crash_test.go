package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	cyberrange "github.com/cyrange/cyrange/range"
)

// crashEnv, when set, makes the test binary an orchestrator that starts
// the container it describes (a crashSpec in JSON) and is killed with
// SIGKILL once the container's process exists, before it is recorded.
const crashEnv = "CYRANGE_LOCAL_TEST_CRASH"

type crashSpec struct {
	StateDir  string               `json:"state_dir"`
	Container cyberrange.Container `json:"container"`
}

func crashMidStart(spec string) int {
	var cs crashSpec
	if err := json.Unmarshal([]byte(spec), &cs); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	d, err := New(Options{StateDir: cs.StateDir})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	d.spawned = func() {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
	err = d.Start(context.Background(), cs.Container)
	fmt.Fprintln(os.Stderr, "start returned:", err)
	return 1
}

// crashStarting runs an orchestrator that is killed in the middle of
// starting c on d's state directory, and returns the process it spawned,
// which is left running.
func crashStarting(t *testing.T, d *Driver, c cyberrange.Container) int {
	t.Helper()
	spec, err := json.Marshal(crashSpec{StateDir: d.o.StateDir, Container: c})
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), crashEnv+"="+string(spec))
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || !ee.Sys().(syscall.WaitStatus).Signaled() || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the orchestrator was to be killed mid-start: %v\n%s", err, out)
	}
	pids := processesIn(t, d.containerDir(c.Name))
	// Whatever the test finds, every process it found goes with it.
	t.Cleanup(func() {
		for _, pid := range pids {
			syscall.Kill(-pid, syscall.SIGKILL)
		}
	})
	if len(pids) != 1 {
		t.Fatalf("after the crash, %d processes run in the container's directory, want the one spawned", len(pids))
	}
	return pids[0]
}

// processesIn lists the live processes whose working directory is dir,
// which is where the driver starts a container's processes.
func processesIn(t *testing.T, dir string) []int {
	t.Helper()
	// The kernel shows a process's directory with every link resolved.
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cwd, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
		if err == nil && cwd == dir && processExists(pid) {
			out = append(out, pid)
		}
	}
	return out
}

// An orchestrator killed after it spawned a container's process and
// before it recorded it used to leave a process nobody knew of, holding
// the container's address: the next start ran a second process beside it
// (which could not listen), and down left it running for good.
func TestCrashBetweenSpawnAndRecord(t *testing.T) {
	ctx := context.Background()
	t.Run("started again", func(t *testing.T) {
		d := setup(t, Options{})
		c, addr := fakeTarget(t, "spawned")
		stray := crashStarting(t, d, c)
		if err := d.Start(ctx, c); err != nil {
			t.Fatal(err)
		}
		if processExists(stray) {
			t.Fatalf("the process the killed orchestrator spawned (pid %d) still runs beside the new one", stray)
		}
		greet(t, addr.String())
		rec := readState(t, d, c.Name)
		if got := processesIn(t, d.containerDir(c.Name)); len(got) != 1 || got[0] != rec.Process.Pid {
			t.Fatalf("processes of the container: %v, want only the recorded %d", got, rec.Process.Pid)
		}
	})
	t.Run("taken down", func(t *testing.T) {
		d := setup(t, Options{})
		c, _ := fakeTarget(t, "spawned")
		stray := crashStarting(t, d, c)
		if st, ok := status(t, d, c.Name); !ok || st.State != cyberrange.StateExited {
			t.Errorf("the container is not listed as exited: %+v, %v", st, ok)
		}
		if err := cyberrange.NewOrchestrator(cyberrange.OrchestratorOptions{Driver: d}).Down(ctx, exercise); err != nil {
			t.Fatal(err)
		}
		if processExists(stray) {
			t.Fatalf("the process the killed orchestrator spawned (pid %d) survives down", stray)
		}
		if _, err := os.Stat(d.containerDir(c.Name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the container's directory is left: %v", err)
		}
	})
}
