package datadir

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cyrange/cyrange/scoreboard"
)

func TestAcquire(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	l, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Release() })
	// A second holder, even in this process, is refused and told who
	// holds it.
	_, err = Acquire(dir)
	if !errors.Is(err, scoreboard.ErrConflict) || !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("second Acquire: %v", err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	l2, err := Acquire(dir)
	if err != nil {
		t.Fatalf("after Release: %v", err)
	}
	l2.Release()
}

// TestLockEndsWithTheProcess: a holder that dies leaves no stale lock.
func TestLockEndsWithTheProcess(t *testing.T) {
	if os.Getenv("DATADIR_HOLD") != "" {
		if _, err := Acquire(os.Getenv("DATADIR_HOLD")); err != nil {
			os.Exit(3)
		}
		os.Stdout.WriteString("held\n")
		select {}
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run", "^TestLockEndsWithTheProcess$")
	cmd.Env = append(os.Environ(), "DATADIR_HOLD="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	buf := make([]byte, 5)
	if _, err := out.Read(buf); err != nil || string(buf) != "held\n" {
		t.Fatalf("holder: %q %v", buf, err)
	}
	if _, err := Acquire(dir); !errors.Is(err, scoreboard.ErrConflict) {
		t.Fatalf("while another process holds it: %v", err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	l, err := Acquire(dir)
	if err != nil {
		t.Fatalf("after the holder was killed: %v", err)
	}
	l.Release()
}

// TestAcquireWaitsForADeadHoldersChild: a holder killed while it started
// a child leaves the lock with the child for a moment (until it execs);
// the next cyrange waits that moment out instead of refusing.
func TestAcquireWaitsForADeadHoldersChild(t *testing.T) {
	dir := t.TempDir()
	child, err := Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	// The file names a process that is gone, while the lock is still held
	// (here by this process's other descriptor, standing for the child).
	if err := os.WriteFile(filepath.Join(dir, LockFile), []byte(strconv.Itoa(dead.Process.Pid)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	released := make(chan struct{})
	go func() {
		time.Sleep(100 * time.Millisecond)
		child.Release()
		close(released)
	}()
	l, err := Acquire(dir)
	if err != nil {
		t.Fatalf("with the holder dead and its child letting go: %v", err)
	}
	<-released
	l.Release()
}
