package target

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// scriptTarget is a Target whose role writes what it is told; the rest
// of the interface is never called.
type scriptTarget struct {
	Target
	gotArgs []string
	run     func(stdout, stderr io.Writer)
}

func (s *scriptTarget) RunTarget(_ context.Context, args []string, stdout, stderr io.Writer) error {
	s.gotArgs = args
	s.run(stdout, stderr)
	return nil
}

func TestSplitLogFile(t *testing.T) {
	for _, c := range []struct {
		desc string
		args []string
		path string
		rest []string
		bad  bool
	}{
		{"none", []string{"--listen", "0.0.0.0"}, "", []string{"--listen", "0.0.0.0"}, false},
		{"empty", nil, "", nil, false},
		{"first", []string{"--log-file", "/l/x.log", "--listen", ":25"}, "/l/x.log", []string{"--listen", ":25"}, false},
		{"with =", []string{"--log-file=/l/x.log", "--smtp-port", "25"}, "/l/x.log", []string{"--smtp-port", "25"}, false},
		{"alone", []string{"--log-file", "/l/x.log"}, "/l/x.log", []string{}, false},
		// Only the first argument: anywhere else it is the target's.
		{"later", []string{"--listen", ":25", "--log-file", "/l/x.log"}, "", []string{"--listen", ":25", "--log-file", "/l/x.log"}, false},
		{"no path", []string{"--log-file"}, "", nil, true},
		{"empty path", []string{"--log-file="}, "", nil, true},
	} {
		t.Run(c.desc, func(t *testing.T) {
			path, rest, err := SplitLogFile(c.args)
			if (err != nil) != c.bad {
				t.Fatalf("error %v", err)
			}
			if path != c.path || !c.bad && !slices.Equal(rest, c.rest) {
				t.Errorf("got %q %q, want %q %q", path, rest, c.path, c.rest)
			}
		})
	}
}

// Run strips the flag, copies stdout's lines to the file, and never
// stderr's.
func TestRunCopiesStdoutOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mail.log")
	tg := &scriptTarget{run: func(stdout, stderr io.Writer) {
		fmt.Fprintln(stderr, "operator password: s3cret")
		io.WriteString(stdout, `{"msg":"one","action":"login"}`+"\n"+`{"msg":"tw`)
		io.WriteString(stdout, `o","action":"send"}`+"\n")
		io.WriteString(stdout, `{"msg":"unfinished"}`)
	}}
	var stdout, stderr bytes.Buffer
	if err := Run(t.Context(), tg, []string{"--log-file", path, "--listen", ":25"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tg.gotArgs, []string{"--listen", ":25"}) {
		t.Errorf("the target got %q", tg.gotArgs)
	}
	want := `{"msg":"one","action":"login"}` + "\n" + `{"msg":"two","action":"send"}` + "\n" + `{"msg":"unfinished"}`
	if stdout.String() != want {
		t.Errorf("stdout %q", stdout.String())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != want+"\n" {
		t.Errorf("file %q", b)
	}
	if bytes.Contains(b, []byte("s3cret")) {
		t.Error("stderr reached the file")
	}
	if stderr.String() != "operator password: s3cret\n" {
		t.Errorf("stderr %q", stderr.String())
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v %v", st.Mode(), err)
	}
}

func TestRunWithoutLogFile(t *testing.T) {
	tg := &scriptTarget{run: func(stdout, _ io.Writer) { io.WriteString(stdout, "x\n") }}
	var stdout bytes.Buffer
	if err := Run(t.Context(), tg, []string{"--listen", ":25"}, &stdout, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(tg.gotArgs, []string{"--listen", ":25"}) || stdout.String() != "x\n" {
		t.Errorf("args %q stdout %q", tg.gotArgs, stdout.String())
	}
}

// A file that cannot be made costs the target nothing but one warning.
func TestRunUnwritableLogFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing-dir", "mail.log")
	tg := &scriptTarget{run: func(stdout, _ io.Writer) {
		for i := range 3 * logQueue {
			fmt.Fprintf(stdout, "line %d\n", i)
		}
	}}
	var stdout, stderr bytes.Buffer
	if err := Run(t.Context(), tg, []string{"--log-file", path}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(stdout.String(), "\n"); n != 3*logQueue {
		t.Errorf("stdout has %d lines", n)
	}
	if n := strings.Count(stderr.String(), "\n"); n < 1 || n > 2 || !strings.Contains(stderr.String(), path) {
		t.Errorf("stderr %q", stderr.String())
	}
	if _, err := os.Stat(path); err == nil {
		t.Error("a file was made")
	}
}

func TestLogFileRotates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mail.log")
	const max = 100
	var stdout bytes.Buffer
	lc := newLogCopy(path, &stdout, io.Discard, max)
	var lines []string
	for i := range 30 {
		l := fmt.Sprintf(`{"n":%02d,"pad":"xxxxxxxxx"}`, i) + "\n" // 27 bytes
		lines = append(lines, l)
		io.WriteString(lc, l)
	}
	lc.Close()
	cur, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile(path + ".1")
	if err != nil {
		t.Fatal(err)
	}
	// Rotated once it passed 100 bytes: every file holds four lines but
	// the current one, which holds what is left.
	if len(old) != 4*27 || len(cur) > max || !strings.HasSuffix(string(cur), lines[29]) {
		t.Errorf("%s.1 has %d bytes, %s %d:\n%s", path, len(old), path, len(cur), cur)
	}
	if want := strings.Join(lines[24:28], ""); string(old) != want {
		t.Errorf("%s.1:\n%s\nwant\n%s", path, old, want)
	}
	if stdout.String() != strings.Join(lines, "") {
		t.Error("stdout lost lines")
	}
}

// A line longer than logLineMax stays out of the file, and the lines
// around it do not suffer.
func TestLogFileSkipsLongLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mail.log")
	lc := newLogCopy(path, io.Discard, io.Discard, logFileMax)
	io.WriteString(lc, "before\n")
	long := strings.Repeat("y", logLineMax)
	io.WriteString(lc, long)
	io.WriteString(lc, long+"\nafter\n")
	lc.Close()
	b, err := os.ReadFile(path)
	if err != nil || string(b) != "before\nafter\n" {
		t.Errorf("file %q %v", b, err)
	}
}

// Writers of many goroutines (a target's connections) each get whole
// lines in the file.
func TestLogFileConcurrentWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mail.log")
	lc := newLogCopy(path, io.Discard, io.Discard, logFileMax)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				fmt.Fprintf(lc, "g%d line %d\n", g, i)
			}
		})
	}
	wg.Wait()
	lc.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(got) != 400 {
		t.Fatalf("%d lines", len(got))
	}
	for _, l := range got {
		var g, i int
		if n, err := fmt.Sscanf(l, "g%d line %d", &g, &i); n != 2 || err != nil {
			t.Errorf("line %q", l)
		}
	}
}
