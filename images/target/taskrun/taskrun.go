// Package taskrun is the plumbing every built-in target's checker shares,
// so that the mail server's and the portal's checkers cannot drift apart
// on what a task is allowed to do or how it is judged: the role that
// serves a checker (its common flags, its caller's token, its replica
// list), and the run of one task — refused before any connection when its
// address is not one of the checker's replicas, handed to the target's
// method, and judged OK, MUMBLE or OFFLINE from what the method returned
// within the task's deadline.
//
// A target's checker keeps what is its own: how it reaches a replica and
// what it plants there. It derives its choices from the secret and the
// task chain (Derive, Rand), so that it keeps no state between tasks.
//
// It imports only the protocol (scoreboard/checks) and must never import
// a target: the targets import it.
package taskrun

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/cyrange/cyrange/scoreboard/checks"
)

// Replica is the replica a task is for: its host, spelled as
// checks.CanonicalHost spells it, and its name in the game, which the
// replica's master passwords depend on.
type Replica struct {
	Host string
	Name string
}

// Methods are a target checker's task methods, each run against the
// replica the checker resolved into R (where its services listen). A
// method returns nil when the service behaved, a verdict (Mumble, Failed)
// when it did not, and an error wrapping ErrInternal when the checker
// cannot run the task at all. A nil method is one the checker does not
// offer.
type Methods[R any] struct {
	PutFlag  func(ctx context.Context, r R, t checks.Task) (attackInfo string, err error)
	GetFlag  func(ctx context.Context, r R, t checks.Task) error
	PutNoise func(ctx context.Context, r R, t checks.Task) error
	GetNoise func(ctx context.Context, r R, t checks.Task) error
	Havoc    func(ctx context.Context, r R, t checks.Task) error
	Exploit  func(ctx context.Context, r R, t checks.Task) (flag string, err error)
}

// Config configures a Runner.
type Config[R any] struct {
	// Secret is the checker secret shared with the targets; without it
	// the checker cannot log in and every task is an internal error.
	Secret string
	// Replicas maps each replica's host (an IP address or a name, as
	// tasks give it) to its name in the game. They are the only targets
	// the checker connects to: a task for any other address is refused.
	Replicas map[string]string
	// Target resolves a replica into where its services listen.
	Target func(Replica) R
	// Methods are the target's task methods.
	Methods Methods[R]
	// Failed turns an error a method returned that is no verdict into one
	// (default: Failed). A target whose client tells its wrong answers
	// apart gives FailedAs with its own names.
	Failed func(step string, err error) error
	// Forget, if set, is called with the replica of every task that was
	// not OK, before its result is returned: a checker that caches what
	// it read of a replica reads it afresh next time, as the replica may
	// have been rebuilt.
	Forget func(R)
	// Think is the longest pause between two steps of a person's session
	// (see Pause). Zero means the default (1.5 s); negative means no
	// pauses (tests).
	Think  time.Duration
	Logger *slog.Logger
	Now    func() time.Time
}

// Runner runs a checker's tasks. It is safe for concurrent use and holds
// nothing between tasks.
type Runner[R any] struct {
	cfg      Config[R]
	replicas map[string]string // canonical host → name
}

// New makes a runner.
func New[R any](cfg Config[R]) *Runner[R] {
	if cfg.Failed == nil {
		cfg.Failed = Failed
	}
	if cfg.Think == 0 {
		cfg.Think = 1500 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	replicas := make(map[string]string, len(cfg.Replicas))
	for host, name := range cfg.Replicas {
		replicas[checks.CanonicalHost(host)] = name
	}
	return &Runner[R]{cfg: cfg, replicas: replicas}
}

// Run runs one task: a result for every task the checker could judge, an
// error wrapping ErrInternal for one it cannot run.
func (r *Runner[R]) Run(ctx context.Context, t checks.Task) (checks.TaskResult, error) {
	if r.cfg.Secret == "" {
		return checks.TaskResult{}, fmt.Errorf("%w: no checker secret configured", ErrInternal)
	}
	rp, ok := r.replica(t.Address)
	if !ok {
		// Refused before any connection: a task pointed elsewhere would
		// have the checker present a replica's master password there.
		r.cfg.Logger.Warn("task refused: not a replica", "method", t.Method, "chain", t.TaskChainID, "address", t.Address)
		return checks.TaskResult{Result: checks.InternalError,
			Message: checks.Str(fmt.Sprintf("refused: %q is not a replica this checker serves", t.Address))}, nil
	}
	tg := r.cfg.Target(rp)
	start := r.cfg.Now()
	out, err := r.dispatch(ctx, tg, t)
	if errors.Is(err, ErrInternal) {
		return checks.TaskResult{}, err
	}
	if err != nil {
		if r.cfg.Forget != nil {
			r.cfg.Forget(tg)
		}
		v := r.judge(string(t.Method), err)
		if ctx.Err() != nil && v.result == checks.Mumble {
			// A service too slow to finish within the task's time is
			// down for the game, whatever the step it was slow in.
			v = &verdict{result: checks.Offline, msg: v.msg + " (timed out)"}
		}
		out = checks.TaskResult{Result: v.result, Message: checks.Str(v.msg)}
	}
	r.cfg.Logger.Info("task done", "method", t.Method, "variant", t.VariantID, "chain", t.TaskChainID,
		"address", t.Address, "result", out.Result, "took", r.cfg.Now().Sub(start).Round(time.Millisecond).String())
	return out, nil
}

// replica returns the replica at address, or false when it is none of
// the checker's.
func (r *Runner[R]) replica(address string) (Replica, bool) {
	host := checks.CanonicalHost(address)
	name, ok := r.replicas[host]
	if !ok || host == "" {
		return Replica{}, false
	}
	return Replica{Host: host, Name: name}, true
}

// dispatch hands t to its method: an OK result with what the method
// returned, or the method's error.
func (r *Runner[R]) dispatch(ctx context.Context, tg R, t checks.Task) (checks.TaskResult, error) {
	m := r.cfg.Methods
	out := checks.TaskResult{Result: checks.OK}
	switch {
	case t.Method == checks.PutFlag && m.PutFlag != nil:
		info, err := m.PutFlag(ctx, tg, t)
		out.AttackInfo = checks.Str(info)
		return out, err
	case t.Method == checks.GetFlag && m.GetFlag != nil:
		return out, m.GetFlag(ctx, tg, t)
	case t.Method == checks.PutNoise && m.PutNoise != nil:
		return out, m.PutNoise(ctx, tg, t)
	case t.Method == checks.GetNoise && m.GetNoise != nil:
		return out, m.GetNoise(ctx, tg, t)
	case t.Method == checks.Havoc && m.Havoc != nil:
		return out, m.Havoc(ctx, tg, t)
	case t.Method == checks.Exploit && m.Exploit != nil:
		flag, err := m.Exploit(ctx, tg, t)
		out.Flag = checks.Str(flag)
		return out, err
	}
	return out, fmt.Errorf("%w: unknown method %q", ErrInternal, t.Method)
}

// judge is the verdict on a method's error, made by the target's Failed
// when the method did not give one.
func (r *Runner[R]) judge(step string, err error) *verdict {
	var v *verdict
	if errors.As(err, &v) || errors.As(r.cfg.Failed(step, err), &v) {
		return v
	}
	return &verdict{result: checks.Mumble, msg: step + ": unexpected answer"}
}

// Derive is an HMAC of parts under the secret: the same chain always gives
// the same choices and tags, and nobody without the secret can predict
// them.
func (r *Runner[R]) Derive(parts ...string) []byte {
	m := hmac.New(sha256.New, []byte(r.cfg.Secret))
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

// Rand is a random source seeded with Derive(parts...).
func (r *Runner[R]) Rand(parts ...string) *rand.Rand {
	sum := r.Derive(parts...)
	return rand.New(rand.NewPCG(binary.BigEndian.Uint64(sum[:8]), binary.BigEndian.Uint64(sum[8:16])))
}

// Pause waits as a person does between two steps of a session, so that
// the checker's sessions have a person's rhythm, unless the task is short
// of time.
func (r *Runner[R]) Pause(ctx context.Context, rnd *rand.Rand) {
	if r.cfg.Think <= 0 {
		return
	}
	d := time.Duration(rnd.Int64N(int64(r.cfg.Think)))
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < 4*d {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
