package taskrun_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/cyrange/cyrange/images/target/taskrun"
	"github.com/cyrange/cyrange/scoreboard/checks"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fake is a target's checker whose every method returns err (and the
// info or flag when it is nil), recording the replicas it was run on and
// those it was told to forget.
type fake struct {
	err error

	mu      sync.Mutex
	ran     []taskrun.Replica
	forgot  []taskrun.Replica
	methods []checks.Method
}

func (f *fake) method(ctx context.Context, r taskrun.Replica, t checks.Task) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ran = append(f.ran, r)
	f.methods = append(f.methods, t.Method)
	return f.err
}

func (f *fake) runner(cfg taskrun.Config[taskrun.Replica]) *taskrun.Runner[taskrun.Replica] {
	if cfg.Secret == "" {
		cfg.Secret = "s"
	}
	if cfg.Replicas == nil {
		cfg.Replicas = map[string]string{"10.0.1.10": "mail.d01", "Portal.D02.example.": "portal.d02"}
	}
	cfg.Target = func(r taskrun.Replica) taskrun.Replica { return r }
	cfg.Methods = taskrun.Methods[taskrun.Replica]{
		PutFlag: func(ctx context.Context, r taskrun.Replica, t checks.Task) (string, error) {
			return "leader@" + r.Name, f.method(ctx, r, t)
		},
		GetFlag: f.method, PutNoise: f.method, GetNoise: f.method, Havoc: f.method,
		Exploit: func(ctx context.Context, r taskrun.Replica, t checks.Task) (string, error) {
			return "FLAG=", f.method(ctx, r, t)
		},
	}
	cfg.Forget = func(r taskrun.Replica) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.forgot = append(f.forgot, r)
	}
	return taskrun.New(cfg)
}

func task(method checks.Method, address string) checks.Task {
	return checks.Task{TaskID: 1, Method: method, Address: address, VariantID: 0, Timeout: 5000, TaskChainID: "flag_s1_r1_t1_i0", Flag: checks.Str("FLAG=")}
}

func run(t *testing.T, r *taskrun.Runner[taskrun.Replica], tk checks.Task) checks.TaskResult {
	t.Helper()
	res, err := r.Run(context.Background(), tk)
	if err != nil {
		t.Fatalf("%s: %v", tk.Method, err)
	}
	return res
}

// TestRunOnlyOnReplicas: a task for an address that is none of the
// checker's replicas is refused before any method runs, whatever way the
// address is spelled; a replica's is run on the replica by its name.
func TestRunOnlyOnReplicas(t *testing.T) {
	f := &fake{}
	r := f.runner(taskrun.Config[taskrun.Replica]{})
	for _, addr := range []string{"10.0.1.11", "10.0.1.10.evil.example", "", "127.0.0.1", "portal.d02.example.org"} {
		res := run(t, r, task(checks.PutFlag, addr))
		if res.Result != checks.InternalError || res.Message == nil || !strings.Contains(*res.Message, "not a replica") {
			t.Errorf("%q: %s %v", addr, res.Result, res.Message)
		}
	}
	if len(f.ran) > 0 {
		t.Fatalf("methods ran on %v", f.ran)
	}
	for addr, want := range map[string]taskrun.Replica{
		"10.0.1.10":                {Host: "10.0.1.10", Name: "mail.d01"},
		"10.0.1.10:25":             {Host: "10.0.1.10", Name: "mail.d01"},
		"::ffff:10.0.1.10":         {Host: "10.0.1.10", Name: "mail.d01"},
		"portal.d02.example":       {Host: "portal.d02.example", Name: "portal.d02"},
		"PORTAL.d02.example.:8080": {Host: "portal.d02.example", Name: "portal.d02"},
		"[::ffff:10.0.1.10]:65535": {Host: "10.0.1.10", Name: "mail.d01"},
		" portal.d02.example.    ": {Host: "portal.d02.example", Name: "portal.d02"},
	} {
		f.ran = nil
		if res := run(t, r, task(checks.GetFlag, addr)); res.Result != checks.OK {
			t.Errorf("%q: %s %v", addr, res.Result, res.Message)
		}
		if len(f.ran) != 1 || f.ran[0] != want {
			t.Errorf("%q: ran on %v, want %v", addr, f.ran, want)
		}
	}
}

func TestRunWithoutSecret(t *testing.T) {
	f := &fake{}
	r := f.runner(taskrun.Config[taskrun.Replica]{})
	r2 := taskrun.New(taskrun.Config[taskrun.Replica]{Replicas: map[string]string{"10.0.1.10": ""}, Target: func(r taskrun.Replica) taskrun.Replica { return r }})
	if _, err := r2.Run(context.Background(), task(checks.PutFlag, "10.0.1.10")); !errors.Is(err, taskrun.ErrInternal) {
		t.Errorf("no secret: %v", err)
	}
	if res := run(t, r, task(checks.PutFlag, "10.0.1.10")); res.Result != checks.OK {
		t.Errorf("with a secret: %s", res.Result)
	}
}

// TestRunDispatches: each method reaches its own function and its
// result's own field; one the checker does not offer is its error.
func TestRunDispatches(t *testing.T) {
	f := &fake{}
	r := f.runner(taskrun.Config[taskrun.Replica]{})
	for _, m := range []checks.Method{checks.PutFlag, checks.GetFlag, checks.PutNoise, checks.GetNoise, checks.Havoc, checks.Exploit} {
		res := run(t, r, task(m, "10.0.1.10"))
		if res.Result != checks.OK {
			t.Errorf("%s: %s", m, res.Result)
		}
		if got := res.AttackInfo != nil; got != (m == checks.PutFlag) || got && *res.AttackInfo != "leader@mail.d01" {
			t.Errorf("%s: attackInfo %v", m, res.AttackInfo)
		}
		if got := res.Flag != nil; got != (m == checks.Exploit) || got && *res.Flag != "FLAG=" {
			t.Errorf("%s: flag %v", m, res.Flag)
		}
	}
	if want := []checks.Method{checks.PutFlag, checks.GetFlag, checks.PutNoise, checks.GetNoise, checks.Havoc, checks.Exploit}; fmt.Sprint(f.methods) != fmt.Sprint(want) {
		t.Errorf("ran %v", f.methods)
	}
	none := taskrun.New(taskrun.Config[taskrun.Replica]{Secret: "s", Replicas: map[string]string{"10.0.1.10": ""},
		Target: func(r taskrun.Replica) taskrun.Replica { return r }})
	for _, m := range []checks.Method{checks.PutFlag, "teleport"} {
		if _, err := none.Run(context.Background(), task(m, "10.0.1.10")); !errors.Is(err, taskrun.ErrInternal) {
			t.Errorf("%s offered by nobody: %v", m, err)
		}
	}
}

// TestRunJudges: what a method returned becomes the task's verdict.
func TestRunJudges(t *testing.T) {
	wrong := func(err error) string {
		if strings.Contains(err.Error(), "401") {
			return "refused"
		}
		return ""
	}
	cases := []struct {
		desc    string
		err     error
		expired bool
		failed  func(string, error) error
		result  checks.Result
		msg     string
	}{
		{desc: "a verdict stands", err: taskrun.Mumble("draft does not hold the flag"), result: checks.Mumble, msg: "draft does not hold the flag"},
		{desc: "a wrapped verdict stands", err: fmt.Errorf("step: %w", taskrun.Failed("IMAP connect", syscall.ECONNREFUSED)), result: checks.Offline, msg: "IMAP connect: service unreachable"},
		{desc: "a refused connection is OFFLINE", err: &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, result: checks.Offline, msg: "getflag: service unreachable"},
		{desc: "a reset connection is OFFLINE", err: syscall.ECONNRESET, result: checks.Offline, msg: "getflag: service unreachable"},
		{desc: "a closed connection is OFFLINE", err: io.ErrUnexpectedEOF, result: checks.Offline, msg: "getflag: service unreachable"},
		{desc: "a deadline is OFFLINE", err: os.ErrDeadlineExceeded, result: checks.Offline, msg: "getflag: service unreachable"},
		{desc: "anything else is a wrong answer", err: errors.New("HTTP 401"), result: checks.Mumble, msg: "getflag: unexpected answer"},
		{desc: "the target names its wrong answers", err: errors.New("HTTP 401"), failed: func(step string, err error) error { return taskrun.FailedAs(step, err, wrong) },
			result: checks.Mumble, msg: "getflag: refused"},
		{desc: "a wrong answer once time ran out is OFFLINE", err: taskrun.Mumble("inbox empty"), expired: true, result: checks.Offline, msg: "inbox empty (timed out)"},
		{desc: "an unreachable service once time ran out stays so", err: syscall.ECONNREFUSED, expired: true, result: checks.Offline, msg: "getflag: service unreachable"},
	}
	for _, c := range cases {
		t.Run(c.desc, func(t *testing.T) {
			f := &fake{err: c.err}
			r := f.runner(taskrun.Config[taskrun.Replica]{Failed: c.failed})
			ctx, cancel := context.WithCancel(context.Background())
			if c.expired {
				cancel()
			}
			defer cancel()
			res, err := r.Run(ctx, task(checks.GetFlag, "10.0.1.10"))
			if err != nil {
				t.Fatal(err)
			}
			if res.Result != c.result || res.Message == nil || *res.Message != c.msg {
				t.Errorf("%s %v, want %s %q", res.Result, res.Message, c.result, c.msg)
			}
			if len(f.forgot) != 1 || f.forgot[0].Name != "mail.d01" {
				t.Errorf("forgot %v", f.forgot)
			}
		})
	}
	// An internal error is the checker's, and the replica is not blamed.
	f := &fake{err: fmt.Errorf("%w: no flag store 9", taskrun.ErrInternal)}
	if _, err := f.runner(taskrun.Config[taskrun.Replica]{}).Run(context.Background(), task(checks.GetFlag, "10.0.1.10")); !errors.Is(err, taskrun.ErrInternal) {
		t.Errorf("internal error: %v", err)
	}
	if len(f.forgot) > 0 {
		t.Errorf("forgot %v after an internal error", f.forgot)
	}
}

func TestFailed(t *testing.T) {
	if taskrun.Failed("x", nil) != nil || taskrun.FailedAs("x", nil, func(error) string { return "y" }) != nil {
		t.Error("no error, yet a verdict")
	}
	if err := taskrun.FailedAs("login", errors.New("401"), func(error) string { return "refused" }); err == nil || err.Error() != "MUMBLE: login: refused" {
		t.Errorf("named: %v", err)
	}
	// A service that cannot be reached is OFFLINE, whatever the target
	// would call its error.
	if err := taskrun.FailedAs("login", context.DeadlineExceeded, func(error) string { return "refused" }); err == nil || err.Error() != "OFFLINE: login: service unreachable" {
		t.Errorf("unreachable: %v", err)
	}
}

func TestStoreAndFlag(t *testing.T) {
	stores := []string{"inbox", "draft"}
	tk := checks.Task{Method: checks.PutFlag, VariantID: 1, Flag: checks.Str("F=")}
	if s, err := taskrun.Store(tk, stores); err != nil || s != "draft" {
		t.Errorf("store %q %v", s, err)
	}
	if f, err := taskrun.Flag(tk); err != nil || f != "F=" {
		t.Errorf("flag %q %v", f, err)
	}
	for _, v := range []int{-1, 2} {
		tk.VariantID = v
		if _, err := taskrun.Store(tk, stores); !errors.Is(err, taskrun.ErrInternal) {
			t.Errorf("variant %d: %v", v, err)
		}
	}
	for _, f := range []*string{nil, checks.Str("")} {
		tk.Flag = f
		if _, err := taskrun.Flag(tk); !errors.Is(err, taskrun.ErrInternal) {
			t.Errorf("flag %v: %v", f, err)
		}
	}
}

// TestExploit: only the attempts that reach the task's store run, until
// one finds the flag whose hash the task gives.
func TestExploit(t *testing.T) {
	r := (&fake{}).runner(taskrun.Config[taskrun.Replica]{})
	const flag = "ABCDEFGHIJKLMNOPQRSTUVWXYZ01234="
	sum := sha256.Sum256([]byte(flag))
	var ran []string
	attempt := func(name string, stores []string, found []string, err error) taskrun.Attempt {
		return taskrun.Attempt{Name: name, Stores: stores, Run: func(context.Context) ([]string, error) {
			ran = append(ran, name)
			return found, err
		}}
	}
	attempts := []taskrun.Attempt{
		attempt("other store", []string{"inbox"}, []string{flag}, nil),
		attempt("broken", []string{"draft"}, nil, errors.New("connection refused")),
		attempt("finds others", []string{"inbox", "draft"}, []string{"XYZ="}, nil),
		attempt("finds it", []string{"draft"}, []string{"XYZ=", flag}, nil),
		attempt("never needed", []string{"draft"}, []string{flag}, nil),
	}
	tk := checks.Task{Method: checks.Exploit, VariantID: 1, FlagHash: checks.Str(strings.ToUpper(hex.EncodeToString(sum[:])))}
	got, err := r.Exploit(context.Background(), tk, []string{"inbox", "draft"}, attempts)
	if err != nil || got != flag {
		t.Fatalf("got %q %v", got, err)
	}
	if want := "[broken finds others finds it]"; fmt.Sprint(ran) != want {
		t.Errorf("ran %v, want %s", ran, want)
	}
	// None finds it: a verdict, not the checker's error.
	tk.VariantID = 0
	ran = nil
	if _, err := r.Exploit(context.Background(), tk, []string{"inbox", "draft"}, attempts[1:3]); err == nil || errors.Is(err, taskrun.ErrInternal) ||
		!strings.Contains(err.Error(), "none of 1 exploits for the inbox store") {
		t.Errorf("none found: %v", err)
	}
	tk.FlagHash = nil
	if _, err := r.Exploit(context.Background(), tk, []string{"inbox"}, attempts); !errors.Is(err, taskrun.ErrInternal) {
		t.Errorf("no flagHash: %v", err)
	}
}

func TestDerive(t *testing.T) {
	a := taskrun.New(taskrun.Config[int]{Secret: "a"})
	b := taskrun.New(taskrun.Config[int]{Secret: "b"})
	if x, y := a.Derive("tag", "c1"), a.Derive("tag", "c1"); hex.EncodeToString(x) != hex.EncodeToString(y) {
		t.Error("the same chain derived two ways")
	}
	for _, other := range [][]byte{a.Derive("tag", "c2"), a.Derive("tagc1"), b.Derive("tag", "c1")} {
		if hex.EncodeToString(other) == hex.EncodeToString(a.Derive("tag", "c1")) {
			t.Error("another chain, part split or secret derived the same")
		}
	}
	if x, y := a.Rand("x"), a.Rand("x"); x.Uint64() != y.Uint64() {
		t.Error("the same parts seeded two sources")
	}
}

// TestPause: no pause when told so, nor when the task's time is short.
func TestPause(t *testing.T) {
	rnd := taskrun.New(taskrun.Config[int]{Secret: "s"}).Rand("pause")
	for _, c := range []struct {
		desc  string
		think time.Duration
		left  time.Duration
	}{
		{"no pauses", -1, time.Minute},
		{"short of time", time.Hour, time.Minute},
	} {
		r := taskrun.New(taskrun.Config[int]{Secret: "s", Think: c.think})
		ctx, cancel := context.WithTimeout(context.Background(), c.left)
		start := time.Now()
		r.Pause(ctx, rnd)
		cancel()
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s: paused %v", c.desc, d)
		}
	}
	// A pause ends with the task.
	r := taskrun.New(taskrun.Config[int]{Secret: "s", Think: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	r.Pause(ctx, rnd)
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("paused %v past the task's end", d)
	}
}
