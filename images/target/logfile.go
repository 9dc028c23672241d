package target

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// LogFileFlag asks for a copy of a target's log lines in a file. The range
// puts it right after the target's name (cyrange target NAME --log-file
// PATH ...), so that every built-in target has it without parsing it.
const LogFileFlag = "--log-file"

// Limits of the log file's copy.
const (
	// logFileMax is the size past which the file is renamed PATH.1 and a
	// new one started: enough for an exercise's busy hours, and a reader
	// following it by name (tail -F) carries on in the new one.
	logFileMax = 16 << 20
	// logLineMax bounds one line; a longer one is left out of the copy
	// (never out of stdout), as half a JSON object is no use to a reader.
	logLineMax = 64 << 10
	// logQueue is how many lines wait for the file; past it lines are
	// dropped rather than making the target wait on a slow disk.
	logQueue = 1024
	// logDrain bounds how long the end of a run waits for queued lines.
	logDrain = 2 * time.Second
)

// Run runs t's target role as cyrange target NAME does: when args start
// with --log-file PATH, the two are taken off the arguments RunTarget
// sees, and every line the target writes on stdout (its JSON log lines)
// is also appended to PATH. Only stdout is copied: stderr carries the
// admin console operator's password, which must never reach a file that
// others read.
//
// The copy never stops or slows the target: a file that cannot be opened
// or written is reported once on stderr and the copy dropped, and lines
// the file cannot take fast enough are left out of it. PATH's directory
// must exist; the file is made with mode 0644 and, past 16 MiB, renamed
// PATH.1 (replacing the one before) and started anew.
func Run(ctx context.Context, t Target, args []string, stdout, stderr io.Writer) error {
	path, rest, err := SplitLogFile(args)
	if err != nil {
		return err
	}
	if path == "" {
		return t.RunTarget(ctx, rest, stdout, stderr)
	}
	lc := newLogCopy(path, stdout, stderr, logFileMax)
	defer lc.Close()
	return t.RunTarget(ctx, rest, lc, stderr)
}

// SplitLogFile takes a leading --log-file PATH (or --log-file=PATH) off
// args, returning PATH ("" when args do not start with it) and the rest.
func SplitLogFile(args []string) (path string, rest []string, err error) {
	if len(args) == 0 {
		return "", args, nil
	}
	if v, ok := strings.CutPrefix(args[0], LogFileFlag+"="); ok {
		path, rest = v, args[1:]
	} else if args[0] == LogFileFlag {
		if len(args) < 2 {
			return "", nil, fmt.Errorf("target: %s needs a path", LogFileFlag)
		}
		path, rest = args[1], args[2:]
	} else {
		return "", args, nil
	}
	if path == "" {
		return "", nil, fmt.Errorf("target: %s needs a path", LogFileFlag)
	}
	return path, rest, nil
}

// logCopy is the target's stdout: everything goes to out as it comes,
// and whole lines to a queue that one goroutine appends to the file.
type logCopy struct {
	out    io.Writer
	stderr io.Writer
	path   string
	max    int64

	mu      sync.Mutex // orders Writes: lines are cut from one stream
	partial []byte
	skip    bool // the current line grew past logLineMax
	dropped bool // reported that the queue overflowed
	closed  bool

	lines  chan []byte
	done   chan struct{}
	warnMu sync.Mutex // Write and the writer may both warn
}

func newLogCopy(path string, out, stderr io.Writer, max int64) *logCopy {
	lc := &logCopy{out: out, stderr: stderr, path: path, max: max,
		lines: make(chan []byte, logQueue), done: make(chan struct{})}
	go lc.write()
	return lc
}

// Write passes p on to out and queues the lines it completes for the
// file. What out answers is the answer: the file is a copy.
func (lc *logCopy) Write(p []byte) (int, error) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	n, err := lc.out.Write(p)
	if lc.closed {
		return n, err
	}
	rest := p[:n]
	for len(rest) > 0 {
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			lc.add(rest)
			break
		}
		lc.add(rest[:i+1])
		if !lc.skip {
			lc.queue(lc.partial)
		}
		lc.partial, lc.skip = nil, false
		rest = rest[i+1:]
	}
	return n, err
}

// add appends a piece of the current line, giving the line up once it
// is too long.
func (lc *logCopy) add(b []byte) {
	if lc.skip {
		return
	}
	if len(lc.partial)+len(b) > logLineMax {
		lc.partial, lc.skip = nil, true
		return
	}
	lc.partial = append(lc.partial, b...)
}

// queue hands a whole line to the writer, or drops it when the writer is
// behind; lc.mu is held.
func (lc *logCopy) queue(line []byte) {
	select {
	case lc.lines <- line:
	default:
		if !lc.dropped {
			lc.dropped = true
			lc.warn(fmt.Errorf("the file falls behind: leaving lines out of it"))
		}
	}
}

// Close ends the copy: an unfinished last line is completed, and queued
// lines get a moment to reach the file.
func (lc *logCopy) Close() error {
	lc.mu.Lock()
	if lc.closed {
		lc.mu.Unlock()
		return nil
	}
	if len(lc.partial) > 0 && !lc.skip {
		lc.queue(append(lc.partial, '\n'))
	}
	lc.closed = true
	close(lc.lines)
	lc.mu.Unlock()
	t := time.NewTimer(logDrain)
	defer t.Stop()
	select {
	case <-lc.done:
	case <-t.C:
	}
	return nil
}

// warn says once on stderr why the file's copy stopped or lost lines.
func (lc *logCopy) warn(err error) {
	lc.warnMu.Lock()
	defer lc.warnMu.Unlock()
	fmt.Fprintf(lc.stderr, "cyrange: log file %s: %v\n", lc.path, err)
}

// write appends the queued lines to the file, rotating it past lc.max.
// After a failure it only drains the queue, so that Write never blocks.
func (lc *logCopy) write() {
	defer close(lc.done)
	f, size, err := openLog(lc.path)
	fail := func(err error) {
		lc.warn(fmt.Errorf("%w: no more copies of the log there", err))
		if f != nil {
			f.Close()
		}
		f = nil
		for range lc.lines {
		}
	}
	if err != nil {
		fail(err)
		return
	}
	for line := range lc.lines {
		n, err := f.Write(line)
		size += int64(n)
		if err != nil {
			fail(err)
			return
		}
		if size < lc.max {
			continue
		}
		if f, size, err = rotate(f, lc.path); err != nil {
			fail(err)
			return
		}
	}
	if err := f.Close(); err != nil {
		lc.warn(err)
	}
}

// openLog opens path for appending, made if missing, and returns its
// size.
func openLog(path string) (*os.File, int64, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, 0, errors.New("not a regular file")
	}
	return f, st.Size(), nil
}

// rotate closes f, renames path to path.1 and opens a new path.
func rotate(f *os.File, path string) (*os.File, int64, error) {
	if err := f.Close(); err != nil {
		return nil, 0, err
	}
	if err := os.Rename(path, path+".1"); err != nil {
		return nil, 0, err
	}
	return openLog(path)
}
