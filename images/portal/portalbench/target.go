package portalbench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The portal role announces its addresses in its action log's first line
// (see portal.Server.Start); the bench reads them there, so that the
// role can take any free port.
const startedMsg = "portal started"

// How long the role may take to build the province and listen: the full
// province takes about 2 s on the development machine, several times
// that under -race.
const startTimeout = 2 * time.Minute

// stopGrace is how long the role has to stop after SIGTERM before it is
// killed.
const stopGrace = 10 * time.Second

// process is the portal role running in a process of its own, so that
// its memory is its own resident set.
type process struct {
	cmd    *exec.Cmd
	pid    int
	addr   string // the public portal's host:port
	log    string // the file its standard output goes to
	done   chan struct{}
	err    error // Wait's, once done is closed
	stderr *tail
}

// startTarget starts the role with args and waits until it listens. Its
// standard output, a JSON line per request and per connection, goes to
// a file in dir, as the range's --log-file keeps it: a pipe would make
// the role wait on whoever reads it, and that reader would be this
// process, busy with the load.
func startTarget(ctx context.Context, command func(ctx context.Context, args []string) *exec.Cmd, args, env []string, dir string) (*process, error) {
	cmd := command(ctx, args)
	cmd.Env = append(cmd.Environ(), env...)
	// A canceled bench stops the role as the range would, and kills it
	// only if it does not stop.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = stopGrace
	p := &process{cmd: cmd, log: filepath.Join(dir, "portal.log"), done: make(chan struct{}), stderr: &tail{max: 4 << 10}}
	cmd.Stderr = p.stderr
	out, err := os.Create(p.log)
	if err != nil {
		return nil, fmt.Errorf("portalbench: target log: %w", err)
	}
	cmd.Stdout = out
	err = cmd.Start()
	_ = out.Close() // the role has its own descriptor
	if err != nil {
		return nil, fmt.Errorf("portalbench: start target %s: %w", cmd.Path, err)
	}
	p.pid = cmd.Process.Pid
	go func() {
		defer close(p.done)
		p.err = cmd.Wait()
	}()
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
	timeout := time.NewTimer(startTimeout)
	defer timeout.Stop()
	for {
		if addr, ok := readStarted(p.log); ok {
			p.addr = addr
			return p, nil
		}
		select {
		case <-poll.C:
		case <-p.done:
			if addr, ok := readStarted(p.log); ok {
				return nil, fmt.Errorf("portalbench: target listened on %s and exited: %v: %s", addr, p.err, p.stderr)
			}
			return nil, fmt.Errorf("portalbench: target exited before listening: %v: %s", p.err, p.stderr)
		case <-timeout.C:
			p.stop()
			return nil, fmt.Errorf("portalbench: target not listening after %v: %s", startTimeout, p.stderr)
		case <-ctx.Done():
			p.stop()
			return nil, fmt.Errorf("portalbench: waiting for the target: %w", ctx.Err())
		}
	}
}

// readStarted looks for the role's start line among the first lines of
// its log and returns the public portal's address.
func readStarted(path string) (string, bool) {
	f, err := os.Open(path)
	if err != nil {
		return "", false
	}
	defer f.Close()
	sc := bufio.NewScanner(io.LimitReader(f, 1<<20))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if !bytes.Contains(line, []byte(startedMsg)) {
			continue
		}
		var ev struct {
			Msg  string `json:"msg"`
			HTTP string `json:"http"`
		}
		if json.Unmarshal(line, &ev) == nil && ev.Msg == startedMsg && ev.HTTP != "" {
			return ev.HTTP, true
		}
	}
	return "", false
}

// logBytes is how much the role has written to its log.
func (p *process) logBytes() int64 {
	st, err := os.Stat(p.log)
	if err != nil {
		return 0
	}
	return st.Size()
}

// stop asks the role to stop and waits for it, killing it after
// stopGrace.
func (p *process) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(stopGrace)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// memory is what /proc/PID/status says of the role's resident set.
type memory struct {
	RSS, HWM uint64 // bytes: now, and the most it ever held
}

func (p *process) memory() (memory, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(p.pid) + "/status")
	if err != nil {
		return memory{}, fmt.Errorf("portalbench: target memory: %w", err)
	}
	return parseStatus(string(b))
}

// parseStatus reads VmRSS and VmHWM (in kB) off /proc/PID/status.
func parseStatus(s string) (memory, error) {
	var m memory
	var seen int
	for line := range strings.Lines(s) {
		key, rest, ok := strings.Cut(line, ":")
		if !ok || key != "VmRSS" && key != "VmHWM" {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return memory{}, fmt.Errorf("portalbench: unexpected %s line %q", key, strings.TrimSpace(line))
		}
		n, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return memory{}, fmt.Errorf("portalbench: %s: %w", key, err)
		}
		if key == "VmRSS" {
			m.RSS = n << 10
		} else {
			m.HWM = n << 10
		}
		seen++
	}
	if seen != 2 {
		return memory{}, errors.New("portalbench: no VmRSS and VmHWM in the target's status")
	}
	return m, nil
}

// clockTick is the unit of /proc/PID/stat's CPU times: USER_HZ, 100 on
// every Linux architecture Go builds for.
const clockTick = 10 * time.Millisecond

// cpu is the CPU time (user and system) the role has used so far.
func (p *process) cpu() (time.Duration, error) { return cpuOf(strconv.Itoa(p.pid)) }

// cpuOf is the CPU time process pid ("self" for this one) has used.
func cpuOf(pid string) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, fmt.Errorf("portalbench: CPU time: %w", err)
	}
	return parseStat(string(b))
}

// runWait is how long the role's threads have waited on a run queue
// while runnable (the second field of each /proc/PID/task/TID/schedstat):
// time the target was ready to work and was not given a CPU. Threads
// that have ended are not counted; Go keeps its threads.
func (p *process) runWait() (time.Duration, error) {
	dir := "/proc/" + strconv.Itoa(p.pid) + "/task"
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("portalbench: run-queue wait: %w", err)
	}
	var total time.Duration
	for _, t := range tasks {
		b, err := os.ReadFile(filepath.Join(dir, t.Name(), "schedstat"))
		if err != nil {
			continue // the thread has just ended
		}
		w, err := parseSchedstat(string(b))
		if err != nil {
			return 0, err
		}
		total += w
	}
	return total, nil
}

// parseSchedstat reads the run-queue wait, in nanoseconds, off a
// schedstat line: "run_ns wait_ns timeslices".
func parseSchedstat(s string) (time.Duration, error) {
	f := strings.Fields(s)
	if len(f) < 2 {
		return 0, fmt.Errorf("portalbench: unreadable schedstat %q", strings.TrimSpace(s))
	}
	n, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("portalbench: schedstat: %w", err)
	}
	return time.Duration(n), nil
}

// machineBusy is the CPU time the whole machine has spent busy since it
// booted: the first line of /proc/stat without idle and iowait, in
// USER_HZ. (range/rangebench reads the same; importing it would bring
// the range into a target's package.)
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0
	}
	var total time.Duration
	for _, i := range []int{1, 2, 3, 6, 7} { // user nice system irq softirq
		n, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return 0
		}
		total += time.Duration(n) * clockTick
	}
	return total
}

// parseStat reads utime and stime (fields 14 and 15) off a
// /proc/PID/stat line. The command name, field 2, may hold spaces and
// parentheses, so the fields are counted from its closing parenthesis.
func parseStat(s string) (time.Duration, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("portalbench: unreadable /proc stat line")
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state): utime is f[11], stime f[12].
	if len(f) < 13 {
		return 0, errors.New("portalbench: short /proc stat line")
	}
	var total time.Duration
	for _, v := range f[11:13] {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("portalbench: /proc stat: %w", err)
		}
		total += time.Duration(n) * clockTick
	}
	return total, nil
}

// tail keeps the last max bytes written to it: the role's standard
// error, quoted when it fails.
type tail struct {
	max int
	mu  sync.Mutex
	b   []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.b))
}
