// Package datadir guards an exercise's data directory (PROTOCOLS.md §6):
// one cyrange process at a time may use it, and a second one learns so
// before it touches anything the first one runs — its range above all,
// which a second `run` on the same directory would otherwise adopt,
// recreate or take down under the running exercise.
//
// The guard is an exclusive flock(2) on <dir>/lock, held for the life of
// the process's use of the directory and released by the kernel when the
// process ends, however it ends: a crashed cyrange never leaves a stale
// lock. The file holds the holder's pid, for the message the next one
// prints.
//
// It also keeps the directory's small files beside the log: server.json,
// which a running server writes so that a command given only the directory
// can find it, and WriteFile, the atomic write of what a command leaves
// there (the after-action report).
//
// It must never import the storage, web or Docker packages.
package datadir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cyrange/cyrange/scoreboard"
)

// LockFile is the lock's name inside the data directory.
const LockFile = "lock"

// Lock is a held lock on a data directory.
type Lock struct {
	f *os.File
}

// Acquire creates dir if needed and locks it without waiting. A directory
// another process holds is ErrConflict, naming that process.
func Acquire(dir string) (*Lock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("datadir: %s: %w", dir, err)
	}
	path := filepath.Join(dir, LockFile)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("datadir: %s: %w", path, err)
	}
	if err := lockSoon(f); err != nil {
		holder := ""
		if pid := readHolder(f); pid > 0 {
			holder = fmt.Sprintf(" (pid %d)", pid)
		}
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("datadir: %s is in use by another cyrange%s: stop it first, or give another --data: %w",
				dir, holder, scoreboard.ErrConflict)
		}
		return nil, fmt.Errorf("datadir: locking %s: %w", path, err)
	}
	// The pid is for the message a second process prints; the lock
	// itself is the flock.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &Lock{f: f}, nil
}

// deadHolderGrace is how long Acquire waits for the lock when the process
// that took it is gone: a process killed while it was starting a child
// leaves that child holding the lock until the child execs its program,
// which closes it.
const deadHolderGrace = 2 * time.Second

// lockSoon takes the lock, waiting up to deadHolderGrace only when its
// holder has died.
func lockSoon(f *os.File) error {
	deadline := time.Now().Add(deadHolderGrace)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EWOULDBLOCK) || alive(readHolder(f)) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// alive reports whether process pid exists (or cannot be told).
func alive(pid int) bool {
	if pid <= 0 {
		return true
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func readHolder(f *os.File) int {
	b := make([]byte, 32)
	n, _ := f.ReadAt(b, 0)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b[:n])))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// Release gives the directory up. The file stays: removing it would let
// a third process lock a new file while a second still waits on the old.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
