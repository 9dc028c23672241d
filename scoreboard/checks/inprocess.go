package checks

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Limits on what a checker may claim in its ServiceInfo: a checker that
// announces a million havoc variants must not make the runner launch a
// million tasks per replica per tick.
const maxVariants = 256

// InProcess wraps a checker that runs inside the engine's process so that it
// behaves as it would behind NewHandler: it is handed a context that ends a
// little before the task's, so it can still report what it saw; a Run cut
// short by that deadline is OFFLINE; a panic or an unknown result becomes an
// error (INTERNAL_ERROR to the runner).
func InProcess(c Checker) Checker {
	if w, ok := c.(inProcess); ok {
		return w
	}
	return inProcess{c: c}
}

type inProcess struct{ c Checker }

func (w inProcess) Info(ctx context.Context) (info ServiceInfo, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("checks: checker info panicked: %v", p)
		}
	}()
	info, err = w.c.Info(ctx)
	if err != nil {
		return info, err
	}
	return info, info.validate()
}

func (w inProcess) Run(ctx context.Context, t Task) (res TaskResult, err error) {
	cctx, cancel := shorten(ctx)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			res, err = TaskResult{}, fmt.Errorf("checks: checker panicked on %s %s: %v", t.Method, t.TaskChainID, p)
		}
	}()
	res, err = w.c.Run(cctx, t)
	return settle(cctx, res, err)
}

// shorten gives a checker a deadline a tenth (at most a second) before its
// caller's, so that a checker that honours its context answers before the
// caller stops waiting.
func shorten(ctx context.Context) (context.Context, context.CancelFunc) {
	dl, ok := ctx.Deadline()
	if !ok {
		return context.WithCancel(ctx)
	}
	left := time.Until(dl)
	return context.WithTimeout(ctx, left-min(left/10, time.Second))
}

// msgTimeout is the message of a task nobody answered in time.
const msgTimeout = "timeout"

// settle turns what a checker's Run returned into the task's outcome: a Run
// that failed because ctx's deadline passed is OFFLINE (see the package
// doc), any other failure stays an error, and an unknown result is one.
func settle(ctx context.Context, res TaskResult, err error) (TaskResult, error) {
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return TaskResult{Result: Offline, Message: Str(msgTimeout)}, nil
		}
		return TaskResult{}, err
	}
	if !res.Result.Valid() {
		return TaskResult{}, fmt.Errorf("checks: checker returned unknown result %q", res.Result)
	}
	return res, nil
}

// validate refuses service descriptions the runner cannot act on.
func (i ServiceInfo) validate() error {
	for _, n := range []int{i.FlagVariants, i.NoiseVariants, i.HavocVariants, i.ExploitVariants} {
		if n < 0 || n > maxVariants {
			return fmt.Errorf("checks: service %q announces %d variants, want 0..%d", i.ServiceName, n, maxVariants)
		}
	}
	return nil
}
