package checks

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cyrange/cyrange/scoreboard"
)

func testFlags(t *testing.T) *scoreboard.Flags {
	t.Helper()
	f, err := scoreboard.NewFlags([]byte("0123456789abcdef0123456789abcdef"), "")
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// replicaPlan plans stores flags of tick for owner's replica of service,
// and the getflags of the earlier ticks in gets.
func replicaPlan(f *scoreboard.Flags, owner, service int, addr string, tick int32, stores int, gets ...int32) scoreboard.ReplicaPlan {
	rp := scoreboard.ReplicaPlan{Owner: owner, OwnerName: fmt.Sprintf("team-%d", owner), Service: service,
		ServiceName: fmt.Sprintf("svc-%d", service), Address: addr}
	slot := func(tk int32, st int) scoreboard.PlannedFlag {
		id := scoreboard.FlagID{Tick: tk, Owner: int16(owner), Service: int16(service), Store: int16(st)}
		return scoreboard.PlannedFlag{ID: id, Flag: f.Issue(id)}
	}
	for st := range stores {
		rp.Put = append(rp.Put, slot(tick, st))
	}
	for _, g := range gets {
		for st := range stores {
			rp.Get = append(rp.Get, slot(g, st))
		}
	}
	return rp
}

func tickPlan(f *scoreboard.Flags, tick int32, length time.Duration, reps ...scoreboard.ReplicaPlan) scoreboard.TickPlan {
	now := time.Now()
	return scoreboard.TickPlan{Tick: tick, Started: now, Length: length, Deadline: now.Add(length),
		Regex: f.Regex(), Replicas: reps}
}

func TestRunnerTicks(t *testing.T) {
	f := testFlags(t)
	kv0, kv1 := startKV(t), startKV(t)
	r := NewRunner(RunnerOptions{Checkers: map[int]Checker{0: serveChecker(t, newKVChecker())}})
	const length = 3 * time.Second

	plan1 := tickPlan(f, 1, length, replicaPlan(f, 0, 0, kv0.addr(), 1, 2), replicaPlan(f, 1, 0, kv1.addr(), 1, 2))
	got := r.CheckTick(t.Context(), plan1)
	if len(got) != 2 {
		t.Fatalf("%d checks, want 2", len(got))
	}
	for i, rc := range got {
		rp := plan1.Replicas[i]
		if rc.Tick != 1 || rc.Owner != rp.Owner || rc.Service != 0 || rc.Status != scoreboard.StatusOK {
			t.Fatalf("replica %d: %+v", i, rc)
		}
		if len(rc.Planted) != 2 {
			t.Fatalf("replica %d planted %d flags, want 2", i, len(rc.Planted))
		}
		for st, p := range rc.Planted {
			chain := fmt.Sprintf("flag_s0_r1_t%d_i%d", rp.Owner, st)
			if p.ID != rp.Put[st].ID || !p.OK || p.AttackInfo != "key "+chain {
				t.Errorf("replica %d store %d: planted %+v", i, st, p)
			}
			kv := []*kvService{kv0, kv1}[i]
			if v, ok := kv.get(chain); !ok || v != rp.Put[st].Flag {
				t.Errorf("service of replica %d holds %q under %s, want its flag", i, v, chain)
			}
			if _, ok := kv.get("noise:noise_s0_r1_t" + fmt.Sprint(rp.Owner) + "_i0"); !ok {
				t.Errorf("replica %d: no noise stored under its chain id", i)
			}
		}
	}

	// The next tick gets the flags of tick 1 back with their chain ids.
	got = r.CheckTick(t.Context(), tickPlan(f, 2, length,
		replicaPlan(f, 0, 0, kv0.addr(), 2, 2, 1), replicaPlan(f, 1, 0, kv1.addr(), 2, 2, 1)))
	for i, rc := range got {
		if rc.Status != scoreboard.StatusOK {
			t.Errorf("tick 2 replica %d: %v %q", i, rc.Status, rc.Message)
		}
	}

	// A service that lost its data is MUMBLE, and the message the checker
	// gave does not show the flag it echoed.
	kv1.lose.Store(true)
	plan3 := tickPlan(f, 3, length, replicaPlan(f, 0, 0, kv0.addr(), 3, 2, 1, 2), replicaPlan(f, 1, 0, kv1.addr(), 3, 2, 1, 2))
	got = r.CheckTick(t.Context(), plan3)
	if got[0].Status != scoreboard.StatusOK {
		t.Errorf("tick 3 replica 0: %v %q", got[0].Status, got[0].Message)
	}
	if got[1].Status != scoreboard.StatusMumble || got[1].Message != "flag [flag] not found" {
		t.Errorf("tick 3 replica 1: %v %q, want MUMBLE with the flag masked", got[1].Status, got[1].Message)
	}
	for _, g := range plan3.Replicas[1].Get {
		if strings.Contains(got[1].Message, g.Flag) {
			t.Errorf("message %q shows a flag", got[1].Message)
		}
	}
}

func TestRunnerStatuses(t *testing.T) {
	f := testFlags(t)
	tests := []struct {
		desc    string
		checker func(t *testing.T) Checker
		addr    func(t *testing.T) string
		want    scoreboard.Status
		msg     string
		planted bool
	}{
		{desc: "service up",
			checker: func(t *testing.T) Checker { return serveChecker(t, newKVChecker()) },
			addr:    func(t *testing.T) string { return startKV(t).addr() },
			want:    scoreboard.StatusOK, planted: true},
		{desc: "service port closed",
			checker: func(t *testing.T) Checker { return serveChecker(t, newKVChecker()) },
			addr:    closedAddr,
			want:    scoreboard.StatusOffline, msg: "cannot connect"},
		{desc: "checker unreachable",
			checker: func(t *testing.T) Checker { return clientFor(t, "http://"+closedAddr(t)) },
			addr:    func(t *testing.T) string { return startKV(t).addr() },
			want:    scoreboard.StatusError, msg: msgChecker},
		{desc: "checker answers garbage",
			checker: func(t *testing.T) Checker {
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
					fmt.Fprint(w, `{"result":"FINE"}`)
				}))
				t.Cleanup(srv.Close)
				return clientFor(t, srv.URL)
			},
			addr: func(t *testing.T) string { return startKV(t).addr() },
			want: scoreboard.StatusError, msg: msgChecker},
		{desc: "in-process checker panics",
			checker: func(*testing.T) Checker { return panicker{} },
			addr:    func(t *testing.T) string { return startKV(t).addr() },
			want:    scoreboard.StatusError, msg: msgChecker},
		{desc: "in-process checker wrapped",
			checker: func(*testing.T) Checker { return InProcess(newKVChecker()) },
			addr:    func(t *testing.T) string { return startKV(t).addr() },
			want:    scoreboard.StatusOK, planted: true},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			r := NewRunner(RunnerOptions{Checkers: map[int]Checker{3: tc.checker(t)}})
			plan := tickPlan(f, 1, 3*time.Second, replicaPlan(f, 4, 3, tc.addr(t), 1, 2))
			got := r.CheckTick(t.Context(), plan)
			if len(got) != 1 {
				t.Fatalf("%d checks, want 1", len(got))
			}
			rc := got[0]
			if rc.Status != tc.want || rc.Message != tc.msg || rc.Owner != 4 || rc.Service != 3 || rc.Tick != 1 {
				t.Errorf("got %+v, want status %v message %q", rc, tc.want, tc.msg)
			}
			if len(rc.Planted) != 2 {
				t.Fatalf("planted %d, want 2", len(rc.Planted))
			}
			for _, p := range rc.Planted {
				if p.OK != tc.planted {
					t.Errorf("planted %+v, want OK=%v", p, tc.planted)
				}
			}
		})
	}
}

type panicker struct{}

func (panicker) Info(context.Context) (ServiceInfo, error) { return ServiceInfo{}, nil }
func (panicker) Run(context.Context, Task) (TaskResult, error) {
	panic("checker bug")
}

func TestRunnerTaskFields(t *testing.T) {
	f := testFlags(t)
	rec := &recorder{info: ServiceInfo{ServiceName: "rec", FlagVariants: 2, NoiseVariants: 2, HavocVariants: 1}}
	r := NewRunner(RunnerOptions{Checkers: map[int]Checker{1: serveChecker(t, rec)}})
	const length = 3 * time.Second
	plan := tickPlan(f, 5, length, replicaPlan(f, 2, 1, "10.9.9.9:8080", 5, 2, 4, 3))
	got := r.CheckTick(t.Context(), plan)
	if rc := got[0]; rc.Status != scoreboard.StatusOK || rc.Message != "fine" || len(rc.Planted) != 2 {
		t.Fatalf("check %+v", rc)
	}
	for st, p := range got[0].Planted {
		if want := fmt.Sprintf("user flag_s1_r5_t2_i%d", st); !p.OK || p.AttackInfo != want {
			t.Errorf("planted %+v, want attack info %q", p, want)
		}
	}

	tasks := rec.tasks()
	count := map[Method]int{}
	ids := map[int64]bool{}
	flags := map[string]string{}
	for _, pf := range append(plan.Replicas[0].Put, plan.Replicas[0].Get...) {
		flags[fmt.Sprintf("flag_s1_r%d_t2_i%d", pf.ID.Tick, pf.ID.Store)] = pf.Flag
	}
	for _, tk := range tasks {
		count[tk.Method]++
		if ids[tk.TaskID] || tk.TaskID>>32 != 5 {
			t.Errorf("task id %#x repeated or not of tick 5", tk.TaskID)
		}
		ids[tk.TaskID] = true
		if tk.Address != "10.9.9.9:8080" || tk.TeamID != 2 || tk.TeamName != "team-2" || tk.CurrentRoundID != 5 ||
			tk.RoundLength != length.Milliseconds() || deref(tk.FlagRegex) != f.Regex() {
			t.Errorf("task %+v: wrong common fields", tk)
		}
		limit := DefaultTaskTimeout(tk.Method, length).Milliseconds()
		if tk.Timeout <= 0 || tk.Timeout > limit {
			t.Errorf("%s timeout %d ms, want 1..%d", tk.Method, tk.Timeout, limit)
		}
		switch tk.Method {
		case PutFlag, GetFlag:
			want, ok := flags[tk.TaskChainID]
			if !ok || deref(tk.Flag) != want {
				t.Errorf("%s chain %s flag %q, want the flag planted with that chain", tk.Method, tk.TaskChainID, deref(tk.Flag))
			}
			var tick int64
			var store int
			fmt.Sscanf(tk.TaskChainID, "flag_s1_r%d_t2_i%d", &tick, &store)
			if tk.RelatedRoundID != tick || tk.VariantID != store {
				t.Errorf("%s %s: related round %d variant %d", tk.Method, tk.TaskChainID, tk.RelatedRoundID, tk.VariantID)
			}
			if tk.Method == PutFlag && (tick != 5 || tk.FlagHash != nil) {
				t.Errorf("putflag %s of round %d with hash %v", tk.TaskChainID, tick, tk.FlagHash)
			}
			sum := sha256.Sum256([]byte(want))
			if tk.Method == GetFlag && (tick == 5 || deref(tk.FlagHash) != hex.EncodeToString(sum[:])) {
				t.Errorf("getflag %s: hash %q", tk.TaskChainID, deref(tk.FlagHash))
			}
		case PutNoise, GetNoise:
			if want := fmt.Sprintf("noise_s1_r5_t2_i%d", tk.VariantID); tk.TaskChainID != want || tk.RelatedRoundID != 5 || tk.Flag != nil {
				t.Errorf("%s: chain %s round %d flag %v, want %s", tk.Method, tk.TaskChainID, tk.RelatedRoundID, tk.Flag, want)
			}
		case Havoc:
			if tk.TaskChainID != "havoc_s1_r5_t2_i0" || tk.VariantID != 0 {
				t.Errorf("havoc chain %s variant %d", tk.TaskChainID, tk.VariantID)
			}
		default:
			t.Errorf("unexpected %s task", tk.Method)
		}
	}
	want := map[Method]int{PutFlag: 2, GetFlag: 4, PutNoise: 2, GetNoise: 2, Havoc: 1}
	for m, n := range want {
		if count[m] != n {
			t.Errorf("%d %s tasks, want %d", count[m], m, n)
		}
	}

	// A getnoise starts only once the putnoise of its chain has ended.
	ended := map[string]bool{}
	rec.mu.Lock()
	for _, e := range rec.events {
		if !e.start && e.task.Method == PutNoise {
			ended[e.task.TaskChainID] = true
		}
		if e.start && e.task.Method == GetNoise && !ended[e.task.TaskChainID] {
			t.Errorf("getnoise %s started before its putnoise ended", e.task.TaskChainID)
		}
	}
	rec.mu.Unlock()
}

// flakyInfo fails its first GET /service.
type flakyInfo struct {
	*recorder
	calls atomic.Int32
}

func (c *flakyInfo) Info(ctx context.Context) (ServiceInfo, error) {
	if c.calls.Add(1) == 1 {
		return ServiceInfo{}, errors.New("starting up")
	}
	return c.recorder.Info(ctx)
}

func TestRunnerInfoCache(t *testing.T) {
	f := testFlags(t)
	c := &flakyInfo{recorder: &recorder{info: ServiceInfo{FlagVariants: 1, NoiseVariants: 1, HavocVariants: 2}}}
	r := NewRunner(RunnerOptions{Checkers: map[int]Checker{0: serveChecker(t, c)}})
	tests := []struct {
		status scoreboard.Status
		msg    string
		tasks  int
		calls  int32
	}{
		// Without the description only the flags are checked, and the
		// replica shows the checker's failure without blame.
		{scoreboard.StatusError, msgNoInfo, 1, 1},
		{scoreboard.StatusOK, "fine", 5, 2},
		{scoreboard.StatusOK, "fine", 5, 2},
	}
	for i, tc := range tests {
		before := len(c.tasks())
		got := r.CheckTick(t.Context(), tickPlan(f, int32(i+1), 3*time.Second, replicaPlan(f, 0, 0, "x", int32(i+1), 1)))
		if got[0].Status != tc.status || got[0].Message != tc.msg {
			t.Errorf("tick %d: %v %q, want %v %q", i+1, got[0].Status, got[0].Message, tc.status, tc.msg)
		}
		if n := len(c.tasks()) - before; n != tc.tasks {
			t.Errorf("tick %d: %d tasks, want %d", i+1, n, tc.tasks)
		}
		if n := c.calls.Load(); n != tc.calls {
			t.Errorf("tick %d: %d info calls, want %d", i+1, n, tc.calls)
		}
	}
}

func TestRunnerParallel(t *testing.T) {
	f := testFlags(t)
	rec := &recorder{info: ServiceInfo{FlagVariants: 3}, delay: 20 * time.Millisecond}
	r := NewRunner(RunnerOptions{Checkers: map[int]Checker{0: rec}, Parallel: 2})
	plan := tickPlan(f, 1, 5*time.Second, replicaPlan(f, 0, 0, "a", 1, 3), replicaPlan(f, 1, 0, "b", 1, 3),
		replicaPlan(f, 2, 0, "c", 1, 3))
	for _, rc := range r.CheckTick(t.Context(), plan) {
		if rc.Status != scoreboard.StatusOK {
			t.Errorf("replica %d: %v %q", rc.Owner, rc.Status, rc.Message)
		}
	}
	if n := len(rec.tasks()); n != 9 {
		t.Errorf("%d tasks, want 9", n)
	}
	if rec.peak > 2 || rec.peak < 1 {
		t.Errorf("%d tasks at once, want at most 2", rec.peak)
	}
}

func TestRunnerNoChecker(t *testing.T) {
	f := testFlags(t)
	r := NewRunner(RunnerOptions{Checkers: map[int]Checker{0: &recorder{}}})
	got := r.CheckTick(t.Context(), tickPlan(f, 1, time.Second, replicaPlan(f, 0, 7, "a", 1, 2)))
	if rc := got[0]; rc.Status != scoreboard.StatusError || rc.Message != msgNoChecker || len(rc.Planted) != 2 ||
		rc.Planted[0].OK || rc.Planted[1].ID.Store != 1 {
		t.Errorf("got %+v", rc)
	}
}

func TestRunnerCanceled(t *testing.T) {
	f := testFlags(t)
	rec := &recorder{}
	r := NewRunner(RunnerOptions{Checkers: map[int]Checker{0: rec}})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	got := r.CheckTick(ctx, tickPlan(f, 1, time.Second, replicaPlan(f, 0, 0, "a", 1, 2)))
	if rc := got[0]; rc.Status != scoreboard.StatusError || rc.Message != msgCanceled || rc.Planted[0].OK {
		t.Errorf("got %+v", rc)
	}
	if n := len(rec.tasks()); n != 0 {
		t.Errorf("%d tasks ran after cancel", n)
	}
}

// stuck is an in-process checker that ignores its context until released.
type stuck struct {
	release chan struct{}
	active  atomic.Int32
}

func (s *stuck) Info(context.Context) (ServiceInfo, error) {
	s.active.Add(1)
	defer s.active.Add(-1)
	<-s.release
	return ServiceInfo{NoiseVariants: 1}, nil
}

func (s *stuck) Run(context.Context, Task) (TaskResult, error) {
	s.active.Add(1)
	defer s.active.Add(-1)
	<-s.release
	return TaskResult{Result: OK}, nil
}

// drain releases the calls the runner left behind and waits for them.
func (s *stuck) drain() {
	close(s.release)
	for s.active.Load() > 0 {
		time.Sleep(time.Millisecond)
	}
}

// TestRunnerDeadline: a tick's checks end at the tick's deadline whatever
// the checkers do. Each checker here hangs far longer than any load could
// delay the runner (until the test ends, or a minute), so a runner that
// waited for one would not come back within the hang guard; no assertion
// measures how close to the deadline it came back.
func TestRunnerDeadline(t *testing.T) {
	f := testFlags(t)
	const length = 300 * time.Millisecond
	tests := []struct {
		desc    string
		checker func(t *testing.T) Checker
		timeout func(Method, time.Duration) time.Duration
		want    scoreboard.Status
	}{
		{desc: "remote checker hangs", want: scoreboard.StatusOffline,
			checker: func(t *testing.T) Checker {
				mux := http.NewServeMux()
				mux.HandleFunc("GET /service", func(w http.ResponseWriter, _ *http.Request) {
					fmt.Fprint(w, `{"serviceName":"slow","flagVariants":1,"noiseVariants":1,"havocVariants":1}`)
				})
				stop := make(chan struct{})
				mux.HandleFunc("POST /", func(_ http.ResponseWriter, r *http.Request) {
					// The server notices a client gone only once the
					// body is read.
					io.Copy(io.Discard, r.Body)
					<-stop
				})
				srv := httptest.NewServer(mux)
				t.Cleanup(srv.Close)
				t.Cleanup(func() { close(stop) })
				return clientFor(t, srv.URL)
			}},
		{desc: "in-process checker ignores its context", want: scoreboard.StatusOffline,
			checker: func(t *testing.T) Checker {
				s := &stuck{release: make(chan struct{})}
				t.Cleanup(s.drain)
				return s
			}},
		{desc: "task timeout shorter than the tick", want: scoreboard.StatusOffline,
			timeout: func(Method, time.Duration) time.Duration { return 30 * time.Millisecond },
			checker: func(*testing.T) Checker {
				return InProcess(&recorder{info: ServiceInfo{FlagVariants: 1}, delay: time.Minute})
			}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			r := NewRunner(RunnerOptions{Checkers: map[int]Checker{0: tc.checker(t)}, TaskTimeout: tc.timeout})
			plan := tickPlan(f, 1, length, replicaPlan(f, 0, 0, "a", 1, 1), replicaPlan(f, 1, 0, "b", 1, 1))
			done := make(chan []scoreboard.ReplicaCheck, 1)
			go func() { done <- r.CheckTick(t.Context(), plan) }()
			var got []scoreboard.ReplicaCheck
			select {
			case got = <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("the runner waited for a hanging checker instead of ending at the tick's deadline")
			}
			for _, rc := range got {
				if rc.Status != tc.want || rc.Message != msgTimeout || rc.Planted[0].OK {
					t.Errorf("replica %d: %+v, want %v %q", rc.Owner, rc, tc.want, msgTimeout)
				}
			}
		})
	}
}

func TestRunnerPastDeadline(t *testing.T) {
	f := testFlags(t)
	rec := &recorder{}
	now := time.Now()
	// The game's clock says the tick is already over.
	r := NewRunner(RunnerOptions{Checkers: map[int]Checker{0: rec}, Now: func() time.Time { return now.Add(time.Hour) }})
	plan := scoreboard.TickPlan{Tick: 1, Started: now, Length: time.Minute, Deadline: now.Add(time.Minute),
		Replicas: []scoreboard.ReplicaPlan{replicaPlan(f, 0, 0, "a", 1, 1)}}
	got := r.CheckTick(t.Context(), plan)
	if rc := got[0]; rc.Status != scoreboard.StatusError || rc.Message != msgNotRun {
		t.Errorf("got %+v", rc)
	}
	if time.Since(now) > 10*time.Second {
		t.Error("a tick already over still waited")
	}
}

func TestWorstOutcome(t *testing.T) {
	res := func(r Result, msg string) outcome { return outcome{res: TaskResult{Result: r, Message: Str(msg)}} }
	tests := []struct {
		desc string
		in   []outcome
		want scoreboard.Status
		msg  string
	}{
		{"no tasks", nil, scoreboard.StatusOK, ""},
		{"all OK", []outcome{res(OK, "a"), res(OK, "b")}, scoreboard.StatusOK, "a"},
		{"mumble beats OK", []outcome{res(OK, "a"), res(Mumble, "m")}, scoreboard.StatusMumble, "m"},
		{"offline beats mumble", []outcome{res(Mumble, "m"), res(Offline, "o"), res(OK, "a")}, scoreboard.StatusOffline, "o"},
		{"checker error alone", []outcome{res(OK, "a"), res(InternalError, "e")}, scoreboard.StatusError, "e"},
		{"only checker errors", []outcome{res(InternalError, "e1"), res(InternalError, "e2")}, scoreboard.StatusError, "e1"},
		{"team fault beats checker error", []outcome{res(InternalError, "e"), res(Mumble, "m")}, scoreboard.StatusMumble, "m"},
		{"offline beats checker error", []outcome{res(Offline, "o"), res(InternalError, "e")}, scoreboard.StatusOffline, "o"},
		{"earliest of equals", []outcome{res(Mumble, "m1"), res(Mumble, "m2")}, scoreboard.StatusMumble, "m1"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			in := make([]outcome, len(tc.in))
			// Outcomes arrive in any order; the task order decides.
			for i, o := range tc.in {
				o.order = i
				in[len(in)-1-i] = o
			}
			w := worstOutcome(in)
			if s := statusOf(w.Result); s != tc.want || deref(w.Message) != tc.msg {
				t.Errorf("got %v %q, want %v %q", s, deref(w.Message), tc.want, tc.msg)
			}
		})
	}
}

func TestDefaultTaskTimeout(t *testing.T) {
	tick := time.Minute
	for _, m := range []Method{PutFlag, GetFlag, PutNoise, GetNoise, Exploit} {
		if d := DefaultTaskTimeout(m, tick); d != 20*time.Second {
			t.Errorf("%s: %v", m, d)
		}
	}
	if d := DefaultTaskTimeout(Havoc, tick); d != 12*time.Second {
		t.Errorf("havoc: %v", d)
	}
	if 2*DefaultTaskTimeout(PutNoise, tick) >= tick {
		t.Error("a putnoise and its getnoise do not fit in a tick")
	}
}
