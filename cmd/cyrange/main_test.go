package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cyrange/cyrange/scoreboard/tokens"
)

// binary is the cyrange binary built once for the tests that run it as a
// separate process.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cyrange-bin-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "cyrange")
	// A version of this run's own names the image the Docker tests build
	// (cyrange:VERSION), so that a test run elsewhere on this machine never
	// runs this one's build, nor removes it.
	version = fmt.Sprintf("test-%d", os.Getpid())
	out, err := exec.Command("go", "build", "-ldflags", "-X main.version="+version, "-o", binary, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building cyrange: %v\n%s", err, out)
		os.Exit(1)
	}
	sweepAbandoned()
	code := m.Run()
	removeTestImage()
	os.RemoveAll(dir)
	os.Exit(code)
}

func runMain(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, &env{stdout: &out, stderr: &errb, getenv: os.Getenv})
	return code, out.String(), errb.String()
}

func TestExitStatuses(t *testing.T) {
	cases := []struct {
		desc string
		args []string
		code int
		msg  string
	}{
		{"no command", nil, 2, "usage"},
		{"unknown command", []string{"fly"}, 2, "unknown command"},
		{"bad flag", []string{"replay", "--nope"}, 2, "flag provided but not defined"},
		{"missing data", []string{"replay"}, 2, "--data DIR is required"},
		{"no exercise", []string{"replay", "--data", t.TempDir()}, 1, "no exercise"},
		{"report without data", []string{"report"}, 2, "--data DIR is required"},
		{"report of nothing", []string{"report", "--data", t.TempDir()}, 1, "no exercise"},
		{"bad format", []string{"export", "--data", "x", "--format", "xml"}, 2, "ctftime, json or csv"},
		{"bad action", []string{"game", "restart", "--data", "x"}, 2, "unknown action"},
		{"unknown scenario", []string{"run", "nowhere"}, 1, "nowhere"},
		{"bad driver", []string{"run", "demo", "--driver", "vm"}, 2, "--driver must be"},
		{"version", []string{"version"}, 0, ""},
	}
	for _, c := range cases {
		t.Run(c.desc, func(t *testing.T) {
			code, _, stderr := runMain(t, c.args...)
			if code != c.code || !strings.Contains(stderr, c.msg) {
				t.Fatalf("exit %d, stderr %q; want %d and %q", code, stderr, c.code, c.msg)
			}
		})
	}
}

// burstScenario writes a scenario with 17 attack teams and 1024 flag
// slots per tick, so a burst has plenty of distinct valid flags.
func burstScenario(t *testing.T, dir string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("name: burst\ntitle: \"Thử tải\"\ntick: 1h\nflag_lifetime: 5\nsubmission: { rate: 1000000, burst: 1000000 }\nteams:\n")
	for i := 1; i <= 17; i++ {
		fmt.Fprintf(&b, "  - { name: \"Đội tấn công %02d\", role: attack }\n", i)
	}
	b.WriteString("  - { name: \"Đội phòng thủ\", role: defence }\nservices:\n")
	for i := 0; i < 64; i++ {
		fmt.Fprintf(&b, "  - name: svc%02d\n    image: example\n    checker: http://127.0.0.1:9/\n    flag_stores: [", i)
		for j := 0; j < 16; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "s%02d", j)
		}
		b.WriteString("]\n")
	}
	path := filepath.Join(dir, "burst.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// server is a cyrange run process.
type server struct {
	cmd    *exec.Cmd
	http   string
	submit string
	// metrics is where /metrics is served without a token (--metrics).
	metrics string
	logs    *syncWriter
}

var addrLine = regexp.MustCompile(`(?m)^\s+(scoreboard|metrics|flag submission \(TCP\))\s+(\S+)`)

func startServer(t *testing.T, scenario, data string) *server {
	t.Helper()
	return startCyrange(t, "", 20*time.Second, "run", scenario, "--data", data,
		"--http", "127.0.0.1:0", "--submit", "127.0.0.1:0")
}

// startCyrange runs the binary with args in dir and returns it once it has
// printed where it listens (within wait); the test's cleanup kills it if
// it is still running.
func startCyrange(t *testing.T, dir string, wait time.Duration, args ...string) *server {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncWriter{w: &bytes.Buffer{}}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, logs: logs}
	t.Cleanup(func() {
		if s.cmd.ProcessState == nil {
			s.cmd.Process.Kill()
			s.cmd.Wait()
		}
	})
	sc := bufio.NewScanner(stdout)
	deadline := time.AfterFunc(wait, func() { cmd.Process.Kill() })
	defer deadline.Stop()
	for (s.http == "" || s.submit == "") && sc.Scan() {
		if m := addrLine.FindStringSubmatch(sc.Text()); m != nil {
			switch m[1] {
			case "scoreboard":
				s.http = strings.TrimSuffix(strings.TrimPrefix(m[2], "http://"), "/")
			case "metrics":
				s.metrics = m[2]
			default:
				s.submit = m[2]
			}
		}
	}
	go io.Copy(io.Discard, stdout)
	if s.http == "" || s.submit == "" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("cyrange %s did not print its addresses; log:\n%s", args[0], tail(logs.text(), 4000))
	}
	return s
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *server) stop(t *testing.T) {
	t.Helper()
	if err := s.interrupt(60 * time.Second); err != nil {
		t.Fatalf("%v; log:\n%s", err, tail(s.logs.text(), 4000))
	}
}

// interrupt stops the process with SIGINT, as Ctrl-C would, and says how
// it ended.
func (s *server) interrupt(wait time.Duration) error {
	s.cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("cyrange exited with %v", err)
		}
		return nil
	case <-time.After(wait):
		s.cmd.Process.Kill()
		return fmt.Errorf("cyrange did not stop on SIGINT within %v", wait)
	}
}

// text is what was written so far, read under the writer's lock.
func (s *syncWriter) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.(*bytes.Buffer).String()
}

func getJSON(t *testing.T, url, token string, v any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s %s", url, resp.Status, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

func readTokens(t *testing.T, data string) tokens.File {
	t.Helper()
	f, err := tokens.ReadFile(data)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// submitTCP sends flags over one pipelined connection and returns the
// flags answered OK before the connection ended.
func submitTCP(addr, token string, flags []string) (ok []string, replies int) {
	return submitTCPNotify(addr, token, flags, nil)
}

// submitTCPNotify is submitTCP calling onOK after each OK reply.
func submitTCPNotify(addr, token string, flags []string, onOK func()) (ok []string, replies int) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, 0
	}
	defer c.Close()
	go func() {
		w := bufio.NewWriter(c)
		fmt.Fprintf(w, "%s\n", token)
		for _, f := range flags {
			w.WriteString(f + "\n")
		}
		w.Flush()
	}()
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && len(f[0]) == 32 {
			replies++
			if f[1] == "OK" {
				ok = append(ok, f[0])
				if onOK != nil {
					onOK()
				}
			}
			if replies == len(flags) {
				break
			}
		}
	}
	return ok, replies
}

type issued struct {
	Flag string `json:"flag"`
}

// TestCrashDuringBurst kills the server with SIGKILL in the middle of a
// 17-team burst: after a restart every flag that was answered OK is in the
// log (a resubmission is a DUP), and the standings equal a fresh replay.
func TestCrashDuringBurst(t *testing.T) {
	dir := t.TempDir()
	scen := burstScenario(t, dir)
	data := filepath.Join(dir, "data")
	s := startServer(t, scen, data)
	toks := readTokens(t, data)
	if code, out, errs := runMain(t, "game", "start", "--data", data); code != 0 {
		t.Fatalf("game start: %d %s %s", code, out, errs)
	}
	var flags []issued
	deadline := time.Now().Add(10 * time.Second)
	for len(flags) == 0 && time.Now().Before(deadline) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+s.http+"/api/v1/admin/flags", nil)
		req.Header.Set("Authorization", "Bearer "+toks.Organizer)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			if resp.StatusCode == 200 {
				json.NewDecoder(resp.Body).Decode(&flags)
			}
			resp.Body.Close()
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(flags) != 1024 {
		t.Fatalf("%d flags issued, want 1024", len(flags))
	}
	all := make([]string, len(flags))
	for i, f := range flags {
		all[i] = f.Flag
	}
	var mu sync.Mutex
	acked := map[int][]string{}
	var wg sync.WaitGroup
	var count atomic.Int64
	under := make(chan struct{})
	var once sync.Once
	for team := 0; team < 17; team++ {
		wg.Add(1)
		go func(team int) {
			defer wg.Done()
			ok, _ := submitTCPNotify(s.submit, toks.Teams[team].Token, all, func() {
				if count.Add(1) == 3000 {
					once.Do(func() { close(under) })
				}
			})
			mu.Lock()
			acked[team] = ok
			mu.Unlock()
		}(team)
	}
	// Kill once the burst is well under way: some flags acknowledged,
	// most still in flight.
	select {
	case <-under:
	case <-time.After(20 * time.Second):
	}
	s.cmd.Process.Signal(syscall.SIGKILL)
	s.cmd.Wait()
	wg.Wait()
	total := 0
	for _, ok := range acked {
		total += len(ok)
	}
	t.Logf("%d flags acknowledged before the kill", total)
	if total == 0 {
		t.Fatal("nothing was acknowledged before the kill: the test proves nothing")
	}
	if total == 17*1024 {
		t.Log("the whole burst finished before the kill; durability is still checked")
	}

	s2 := startServer(t, scen, data)
	for team, ok := range acked {
		if len(ok) == 0 {
			continue
		}
		c, err := net.Dial("tcp", s2.submit)
		if err != nil {
			t.Fatal(err)
		}
		w := bufio.NewWriter(c)
		fmt.Fprintf(w, "%s\n", toks.Teams[team].Token)
		for _, f := range ok {
			w.WriteString(f + "\n")
		}
		w.Flush()
		sc := bufio.NewScanner(c)
		n := 0
		for n < len(ok) && sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) < 2 || len(f[0]) != 32 {
				continue
			}
			if f[1] != "DUP" {
				t.Fatalf("team %d: acknowledged flag %s answered %q after the restart: lost", team, f[0], sc.Text())
			}
			n++
		}
		c.Close()
		if n != len(ok) {
			t.Fatalf("team %d: %d replies for %d flags", team, n, len(ok))
		}
	}
	var live struct {
		Standings []map[string]any `json:"standings"`
	}
	getJSON(t, "http://"+s2.http+"/api/v1/admin/scoreboard", toks.Organizer, &live)
	s2.stop(t)

	code, out, errs := runMain(t, "replay", "--data", data, "--json")
	if code != 0 {
		t.Fatalf("replay: exit %d: %s", code, errs)
	}
	var rep struct {
		Match     bool             `json:"match"`
		Standings []map[string]any `json:"standings"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if !rep.Match || len(rep.Standings) != len(live.Standings) {
		t.Fatalf("replay does not match: %s", out)
	}
	for i := range rep.Standings {
		if fmt.Sprint(rep.Standings[i]) != fmt.Sprint(live.Standings[i]) {
			t.Fatalf("standing %d: server %v, replay %v", i, live.Standings[i], rep.Standings[i])
		}
	}
}

// TestRunExportAndGameCommands runs an exercise in this process and drives
// it with the CLI's game and export commands.
func TestRunExportAndGameCommands(t *testing.T) {
	dir := t.TempDir()
	scen := burstScenario(t, dir)
	data := filepath.Join(dir, "data")
	s := startServer(t, scen, data)
	toks := readTokens(t, data)
	for _, step := range []struct {
		action string
		code   int
		out    string
	}{
		{"pause", 1, "cannot pause while setup"},
		{"start", 0, "now running"},
		{"freeze", 0, "now running"},
		{"pause", 0, "now paused"},
		{"resume", 0, "now running"},
	} {
		code, out, errs := runMain(t, "game", step.action, "--data", data)
		if code != step.code || !strings.Contains(out+errs, step.out) {
			t.Fatalf("game %s: exit %d, %q %q; want %d %q", step.action, code, out, errs, step.code, step.out)
		}
	}
	var flags []issued
	getJSON(t, "http://"+s.http+"/api/v1/admin/flags", toks.Organizer, &flags)
	ok, _ := submitTCP(s.submit, toks.Teams[4].Token, []string{flags[0].Flag, flags[1].Flag})
	if len(ok) != 2 {
		t.Fatalf("accepted %d of 2", len(ok))
	}
	var board struct {
		Frozen    bool `json:"frozen"`
		Standings []struct {
			Team  string  `json:"team"`
			Total float64 `json:"total"`
		} `json:"standings"`
	}
	getJSON(t, "http://"+s.http+"/api/v1/scoreboard", "", &board)
	if !board.Frozen || board.Standings[0].Total != 0 {
		t.Fatalf("the public board moved after the freeze: %+v", board)
	}
	s.stop(t)
	// With the server gone, the game command writes to the log itself.
	if code, out, errs := runMain(t, "game", "end", "--data", data); code != 0 || !strings.Contains(out, "now ended") {
		t.Fatalf("game end offline: %d %q %q", code, out, errs)
	}
	code, out, errs := runMain(t, "export", "--data", data, "--format", "ctftime")
	if code != 0 {
		t.Fatalf("export: %d %s", code, errs)
	}
	var feed struct {
		Standings []struct {
			Pos   int     `json:"pos"`
			Team  string  `json:"team"`
			Score float64 `json:"score"`
		} `json:"standings"`
	}
	if err := json.Unmarshal([]byte(out), &feed); err != nil {
		t.Fatal(err)
	}
	if len(feed.Standings) != 17 || feed.Standings[0].Team != "Đội tấn công 05" || feed.Standings[0].Pos != 1 ||
		feed.Standings[0].Score != 24.0 {
		t.Fatalf("ctftime feed: %s", out)
	}
	code, out, _ = runMain(t, "export", "--data", data, "--format", "csv")
	if code != 0 || !strings.HasPrefix(out, "rank,team,role,total") || !strings.Contains(out, "Đội tấn công 05") {
		t.Fatalf("csv export: %q", out)
	}
}
