package loadgen

import (
	"context"
	"time"

	"github.com/cyrange/cyrange/scoreboard/store"
	"github.com/cyrange/cyrange/scoreboard/submit"
)

// SubmitResult is a submission load and the baselines it is judged
// against, measured right after it on the same disk.
type SubmitResult struct {
	submit.LoadResult
	// Proto is the door the load went through ("tcp", "http"), Teams how
	// many teams submitted at once.
	Proto string
	Teams int
	// Baseline is how many appends a second a bare bbolt group-commit
	// loop makes (64 submitters, 100-byte records).
	Baseline float64
	// FdatasyncP50 and FdatasyncP99 are the disk's fdatasync of 8 KiB.
	FdatasyncP50, FdatasyncP99 time.Duration
}

// Ratio is the load's durable acceptance rate over the baseline's.
func (r SubmitResult) Ratio() float64 { return r.PerSecond / r.Baseline }

// Submit runs the submission load o against a served exercise, then
// measures the baselines in dir, a directory on the exercise's disk.
func Submit(ctx context.Context, o submit.LoadOptions, dir string) (SubmitResult, error) {
	res, err := submit.Load(ctx, o)
	if err != nil {
		return SubmitResult{}, err
	}
	base, err := store.MeasureRawGroupCommit(ctx, dir, 64, 100, 3*time.Second)
	if err != nil {
		return SubmitResult{}, err
	}
	p50, p99, err := store.MeasureFdatasync(ctx, dir, 2000, 8<<10)
	if err != nil {
		return SubmitResult{}, err
	}
	return SubmitResult{LoadResult: res, Proto: o.Proto, Teams: len(o.Tokens), Baseline: base, FdatasyncP50: p50, FdatasyncP99: p99}, nil
}
