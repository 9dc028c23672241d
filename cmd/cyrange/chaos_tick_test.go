package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cyrange/cyrange/scoreboard/checks"
)

// holdingChecker is an enochecker v2 checker for the game's tick: it
// answers every task OK at once until it is armed; then it holds every
// task it gets until the task's context ends, and says so on held.
type holdingChecker struct {
	stores   int
	armed    atomic.Bool
	inflight atomic.Int64
	held     chan int64
}

func (c *holdingChecker) Info(context.Context) (checks.ServiceInfo, error) {
	return checks.ServiceInfo{ServiceName: "chaos", FlagVariants: c.stores}, nil
}

func (c *holdingChecker) Run(ctx context.Context, t checks.Task) (checks.TaskResult, error) {
	if !c.armed.Load() {
		return checks.TaskResult{Result: checks.OK}, nil
	}
	c.inflight.Add(1)
	defer c.inflight.Add(-1)
	select {
	case c.held <- t.CurrentRoundID:
	default:
	}
	<-ctx.Done()
	return checks.TaskResult{Result: checks.Offline}, nil
}

// tickScenario writes a scenario of six attack teams and one defence
// team, four services of sixteen flag stores each (64 flags a tick) whose
// checker is at checker, short ticks and a long flag lifetime (nothing
// expires while the test runs).
func tickScenario(t *testing.T, dir, checker string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("name: chaos-tick\ntitle: \"Chaos\"\ntick: 2s\nflag_lifetime: 100\ngetflag_depth: 1\n")
	b.WriteString("submission: { rate: 1000000, burst: 1000000 }\nteams:\n")
	for i := 1; i <= 6; i++ {
		fmt.Fprintf(&b, "  - { name: \"Đội tấn công %02d\", role: attack }\n", i)
	}
	b.WriteString("  - { name: \"Đội phòng thủ\", role: defence }\nservices:\n")
	for i := range 4 {
		fmt.Fprintf(&b, "  - name: svc%d\n    image: example\n    checker: %s\n    flag_stores: [", i, checker)
		for j := range 16 {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "s%02d", j)
		}
		b.WriteString("]\n")
	}
	path := filepath.Join(dir, "chaos-tick.yaml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// flagPool is every flag issued so far, in order, fed from the organizer's
// API; submitters each walk it from the start.
type flagPool struct {
	mu    sync.Mutex
	flags []string
	more  chan struct{} // closed and replaced when flags are added
}

func newFlagPool() *flagPool { return &flagPool{more: make(chan struct{})} }

func (p *flagPool) add(flags []string) {
	p.mu.Lock()
	p.flags = append(p.flags, flags...)
	close(p.more)
	p.more = make(chan struct{})
	p.mu.Unlock()
}

// next returns the flag at i, waiting for it until stop is closed.
func (p *flagPool) next(i int, stop <-chan struct{}) (string, bool) {
	for {
		p.mu.Lock()
		if i < len(p.flags) {
			f := p.flags[i]
			p.mu.Unlock()
			return f, true
		}
		more := p.more
		p.mu.Unlock()
		select {
		case <-more:
		case <-stop:
			return "", false
		}
	}
}

// feedFlags adds every tick's flags to pool as the ticks come, until stop
// is closed or the server is gone.
func feedFlags(s *server, organizer string, pool *flagPool, stop <-chan struct{}) {
	last := int32(0)
	for {
		var v struct {
			Tick int32 `json:"tick"`
		}
		if err := apiGet("http://"+s.http+"/api/v1/scoreboard", "", &v); err != nil {
			return
		}
		for ; last < v.Tick; last++ {
			var fl []issued
			if err := apiGet(fmt.Sprintf("http://%s/api/v1/admin/flags?tick=%d", s.http, last+1), organizer, &fl); err != nil {
				return
			}
			flags := make([]string, len(fl))
			for i, f := range fl {
				flags[i] = f.Flag
			}
			pool.add(flags)
		}
		select {
		case <-stop:
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// streamer is an attack team submitting every flag of the pool as it
// comes, at a steady pace, over one protocol, until its connection fails.
type streamer struct {
	team  int
	token string
	http  bool

	mu      sync.Mutex
	sent    []string // every flag handed to the connection
	acked   []string // answered OK
	pending int      // sent and not answered
}

func (st *streamer) ackedCount() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	return len(st.acked)
}

// A team sends a burst of flags, then waits: a tick's 64 flags go out
// over most of its 2 s, so that the streams go on across the ticks.
const (
	burst = 8
	pace  = 25 * time.Millisecond
)

func (st *streamer) run(s *server, pool *flagPool, stop <-chan struct{}) {
	if st.http {
		st.runHTTP(s, pool, stop)
	} else {
		st.runTCP(s, pool, stop)
	}
}

func (st *streamer) runTCP(s *server, pool *flagPool, stop <-chan struct{}) {
	c, err := net.DialTimeout("tcp", s.submit, 10*time.Second)
	if err != nil {
		return
	}
	defer c.Close()
	if _, err := io.WriteString(c, st.token+"\n"); err != nil {
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(c)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) < 2 || len(f[0]) != 32 {
				continue
			}
			st.mu.Lock()
			st.pending--
			if f[1] == "OK" {
				st.acked = append(st.acked, f[0])
			}
			st.mu.Unlock()
		}
	}()
	for i := 0; ; i += burst {
		var lines strings.Builder
		var flags []string
		for j := range burst {
			f, ok := pool.next(i+j, stop)
			if !ok {
				break
			}
			flags = append(flags, f)
			lines.WriteString(f + "\n")
		}
		st.mu.Lock()
		st.sent = append(st.sent, flags...)
		st.pending += len(flags)
		st.mu.Unlock()
		if lines.Len() == 0 {
			break
		}
		if _, err := io.WriteString(c, lines.String()); err != nil {
			break
		}
		select {
		case <-stop:
		case <-done:
		case <-time.After(burst * pace):
			continue
		}
		break
	}
	c.Close()
	<-done
}

func (st *streamer) runHTTP(s *server, pool *flagPool, stop <-chan struct{}) {
	const batch = burst
	client := &http.Client{Timeout: 30 * time.Second}
	for i := 0; ; i += batch {
		var flags []string
		for j := range batch {
			f, ok := pool.next(i+j, stop)
			if !ok {
				return
			}
			flags = append(flags, f)
		}
		st.mu.Lock()
		st.sent = append(st.sent, flags...)
		st.pending += len(flags)
		st.mu.Unlock()
		codes, err := putFlags(client, s.http, st.token, flags)
		if err != nil {
			return
		}
		st.mu.Lock()
		st.pending -= len(flags)
		for _, f := range flags {
			if codes[f] == "OK" {
				st.acked = append(st.acked, f)
			}
		}
		st.mu.Unlock()
		select {
		case <-stop:
			return
		case <-time.After(batch * pace):
		}
	}
}

// putFlags submits flags over HTTP and returns each one's code.
func putFlags(client *http.Client, addr, token string, flags []string) (map[string]string, error) {
	body, _ := json.Marshal(flags)
	req, _ := http.NewRequest(http.MethodPut, "http://"+addr+"/flags", bytes.NewReader(body))
	req.Header.Set("X-Team-Token", token)
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		return nil, fmt.Errorf("PUT /flags: %s %s", resp.Status, b)
	}
	var res []struct {
		Flag string `json:"flag"`
		Code string `json:"code"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, r := range res {
		out[r.Flag] = r.Code
	}
	return out, nil
}

// submitCodes submits flags over TCP on one pipelined connection, from
// the loopback address src (any when empty), and returns each one's code.
func submitCodes(t *testing.T, src, addr, token string, flags []string) map[string]string {
	t.Helper()
	d := net.Dialer{Timeout: 10 * time.Second}
	if src != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Minute)) // a hang guard only
	go func() {
		w := bufio.NewWriter(c)
		fmt.Fprintf(w, "%s\n", token)
		for _, f := range flags {
			w.WriteString(f + "\n")
		}
		w.Flush()
	}()
	out := map[string]string{}
	sc := bufio.NewScanner(c)
	for n := 0; n < len(flags) && sc.Scan(); {
		if f := strings.Fields(sc.Text()); len(f) >= 2 && len(f[0]) == 32 {
			out[f[0]] = f[1]
			n++
		}
	}
	return out
}

type standing struct {
	Team     string `json:"team"`
	Captures int    `json:"captures"`
}

// endGame ends the game on the server at addr, so that its standings are
// final: a check still in flight, or telemetry still arriving, is logged
// after the standings are read but no longer moves them, which is what a
// replay of the log must then agree with.
func endGame(t *testing.T, addr, organizer string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/api/v1/admin/phase", strings.NewReader(`{"action":"end"}`))
	req.Header.Set("Authorization", "Bearer "+organizer)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("ending the game: %s %s", resp.Status, b)
	}
}

// replayMatches asserts that `cyrange replay` of data recomputes the
// standings the server showed (live, from its admin scoreboard).
func replayMatches(t *testing.T, data string, live []map[string]any) {
	t.Helper()
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
	if !rep.Match || fmt.Sprint(rep.Standings) != fmt.Sprint(live) {
		t.Fatalf("replay %v does not match the server's standings %v", rep.Standings, live)
	}
}

// TestChaosKillDuringTick kills the game server with SIGKILL while a tick
// is in flight (its checker tasks held at the checker) and six teams
// stream flags over TCP and HTTP. After the restart every acknowledged
// flag is a DUP, every flag sent before the kill counts exactly once
// (each team's captures equal the flags it sent), and a replay of the log
// equals the standings.
func TestChaosKillDuringTick(t *testing.T) {
	chk := &holdingChecker{stores: 16, held: make(chan int64, 1)}
	ts := httptest.NewServer(checks.NewHandler(chk, slog.New(slog.DiscardHandler)))
	t.Cleanup(ts.Close)
	// Close would wait for the held tasks, which end with their
	// connections: the server's death ends them.
	dir := t.TempDir()
	scen := tickScenario(t, dir, ts.URL+"/")
	data := filepath.Join(dir, "data")
	s := startServer(t, scen, data)
	toks := readTokens(t, data)
	gameAction(t, data, "start")

	pool := newFlagPool()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { feedFlags(s, toks.Organizer, pool, stop) })
	var teams []*streamer
	for i, tm := range toks.Teams {
		if tm.Role != "attack" {
			continue
		}
		st := &streamer{team: i, token: tm.Token, http: len(teams)%2 == 1}
		teams = append(teams, st)
		wg.Go(func() { st.run(s, pool, stop) })
	}
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}()

	// Once every team has flags acknowledged, the next tick's tasks are
	// held at the checker: the kill comes with them in flight.
	deadline := time.Now().Add(2 * time.Minute)
	for slices.ContainsFunc(teams, func(st *streamer) bool { return st.ackedCount() < 20 }) {
		if time.Now().After(deadline) {
			t.Fatalf("the teams did not get 20 flags each acknowledged; log:\n%s", tail(s.logs.text(), 3000))
		}
		time.Sleep(20 * time.Millisecond)
	}
	chk.armed.Store(true)
	var round int64
	select {
	case round = <-chk.held:
	case <-time.After(2 * time.Minute):
		t.Fatalf("no checker task came; log:\n%s", tail(s.logs.text(), 3000))
	}
	// The kill comes while the tick's tasks are held and flags are in
	// flight over both protocols.
	inFlight := func() (overTCP, overHTTP int) {
		for _, st := range teams {
			st.mu.Lock()
			if st.http {
				overHTTP += st.pending
			} else {
				overTCP += st.pending
			}
			st.mu.Unlock()
		}
		return overTCP, overHTTP
	}
	var inTasks int64
	var inTCP, inHTTP int
	deadline = time.Now().Add(2 * time.Minute)
	for {
		inTasks = chk.inflight.Load()
		if inTCP, inHTTP = inFlight(); inTasks > 0 && inTCP > 0 && inHTTP > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never a moment with checker tasks and flags over both protocols in flight; log:\n%s", tail(s.logs.text(), 3000))
		}
		time.Sleep(100 * time.Microsecond)
	}
	s.kill()
	close(stop)
	wg.Wait()
	chk.armed.Store(false)

	ackedTCP, ackedHTTP := 0, 0
	for _, st := range teams {
		if st.http {
			ackedHTTP += len(st.acked)
		} else {
			ackedTCP += len(st.acked)
		}
	}

	waitUnlocked(t, data)
	s2 := startServer(t, scen, data)
	client := &http.Client{Timeout: time.Minute}
	sent := map[string]int{}
	for _, st := range teams {
		var codes map[string]string
		if st.http {
			codes = map[string]string{}
			for i := 0; i < len(st.sent); i += 1000 {
				c, err := putFlags(client, s2.http, st.token, st.sent[i:min(i+1000, len(st.sent))])
				if err != nil {
					t.Fatal(err)
				}
				for f, code := range c {
					codes[f] = code
				}
			}
		} else {
			codes = submitCodes(t, "", s2.submit, st.token, st.sent)
		}
		for _, f := range st.acked {
			if codes[f] != "DUP" {
				t.Errorf("team %d: flag %s acknowledged before the kill is %q after the restart: lost", st.team, f, codes[f])
			}
		}
		for _, f := range st.sent {
			if c := codes[f]; c != "DUP" && c != "OK" {
				t.Errorf("team %d: flag %s sent before the kill is %q after the restart", st.team, f, c)
			}
		}
		sent[toks.Teams[st.team].Name] = len(st.sent)
	}
	var live struct {
		Standings []map[string]any `json:"standings"`
	}
	endGame(t, s2.http, toks.Organizer)
	getJSON(t, "http://"+s2.http+"/api/v1/admin/scoreboard", toks.Organizer, &live)
	for _, st := range live.Standings {
		name, _ := st["team"].(string)
		if n, ok := sent[name]; ok && int(st["captures"].(float64)) != n {
			t.Errorf("%s: %v captures in the standings, %d flags sent: each must count once", name, st["captures"], n)
		}
	}
	s2.stop(t)
	replayMatches(t, data, live.Standings)
	if t.Failed() {
		return
	}
	total := 0
	for _, n := range sent {
		total += n
	}
	figure(t, "kill during tick: SIGKILL in tick %d with %d checker tasks and %d flags in flight (TCP %d, HTTP %d); %d teams streaming (3 TCP, 3 HTTP) had %d flags acknowledged (TCP %d, HTTP %d) of %d sent; after the restart 0 lost, each counted once, replay = standings",
		round, inTasks, inTCP+inHTTP, inTCP, inHTTP, len(teams), ackedTCP+ackedHTTP, ackedTCP, ackedHTTP, total)
}
