package store

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// crashChildEnv carries the database path to the re-executed test binary.
const crashChildEnv = "CYRANGE_STORE_CRASH_CHILD"

// TestCrashSafety kills a process that is appending as fast as it can and
// checks that every record it acknowledged survived, under the sequence it
// was given, and that the file is consistent. (SIGKILL loses the process,
// not the page cache: this proves the commit protocol, not the disk.)
func TestCrashSafety(t *testing.T) {
	if path := os.Getenv(crashChildEnv); path != "" {
		crashChild(path)
		return
	}
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	path := filepath.Join(t.TempDir(), "exercise.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashSafety$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	acked := map[uint64]string{}
	sc := bufio.NewScanner(out)
	killed := false
	for sc.Scan() {
		var seq uint64
		var rec string
		if _, err := fmt.Sscanf(sc.Text(), "ack %d %s", &seq, &rec); err != nil {
			continue // the test framework's own output
		}
		acked[seq] = rec
		// Lines already in the pipe after the kill were acknowledged
		// too, so reading goes on until EOF.
		if len(acked) == 3000 && !killed {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	werr := cmd.Wait()
	if !killed {
		t.Fatalf("child ended after %d acknowledgements: %v", len(acked), werr)
	}

	l := openLog(t, Options{Path: path})
	stored := map[uint64]string{}
	if err := l.Iterate(context.Background(), 0, func(seq uint64, rec []byte) error {
		if seq != uint64(len(stored))+1 {
			return fmt.Errorf("seq %d follows %d", seq, len(stored))
		}
		stored[seq] = string(rec)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for seq, rec := range acked {
		if got, ok := stored[seq]; !ok || got != rec {
			t.Fatalf("acknowledged seq %d: stored %q (present %v), want %q", seq, got, ok, rec)
		}
	}
	last := l.LastSeq()
	if next := mustAppend(t, l, records("after", 1)); next != last+1 {
		t.Errorf("append after the crash got %d, want %d", next, last+1)
	}
	t.Logf("%d acknowledged, %d on disk after SIGKILL", len(acked), last)
}

// crashChild appends from several goroutines until it is killed, printing
// each acknowledged sequence with its record.
func crashChild(path string) {
	l, err := Open(context.Background(), Options{Path: path})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var mu sync.Mutex
	w := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	deadline := time.Now().Add(time.Minute) // in case the parent dies first
	for g := range 8 {
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline); i++ {
				recs := [][]byte{fmt.Appendf(nil, "g%d-%d-a", g, i), fmt.Appendf(nil, "g%d-%d-b", g, i)}
				first, err := l.Append(context.Background(), recs, nil)
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(2)
				}
				mu.Lock()
				fmt.Fprintf(w, "ack %d %s\nack %d %s\n", first, recs[0], first+1, recs[1])
				w.Flush()
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	os.Exit(3)
}
