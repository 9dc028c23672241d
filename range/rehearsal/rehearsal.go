// Package rehearsal is the pre-flight check of a scenario on a scratch
// range: it brings the range up, proves that every replica, checker and
// gateway answers, plants and gets back a flag in every store, runs every
// reference exploit through an attack team's gateway (one whose weakness
// is on must get a flag, one whose weakness is off must not), applies each
// remedy and proves the exploit then fails while the checker stays OK.
// Chains that cross targets (a pivot from one of a defending team's
// replicas into another) run end to end before the remedies and must
// fail after them.
//
// It knows targets only through the target interface (images/target) and
// the range only through its plan, its status and the operator
// (range/operator); its caller brings the scratch range up and down.
package rehearsal

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cyrange/cyrange/images/target"
	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/scenarios"
	"github.com/cyrange/cyrange/scoreboard"
	"github.com/cyrange/cyrange/scoreboard/checks"
	"github.com/cyrange/cyrange/scoreboard/tokens"
)

// Suffix renames the rehearsed scenario, so that its containers, networks
// and records never meet those of the real exercise.
const Suffix = "-rehearsal"

// Range is the scratch range as its caller brought it up.
type Range struct {
	Plan *cyberrange.Plan
	// Status reports what runs.
	Status func(ctx context.Context) (cyberrange.Report, error)
	// Checkers are the game's checkers of each service.
	Checkers map[int]checks.Checker
	// Remedy applies the remedy of weakness w to owner's replica of
	// service svc as the defence would: through its defence gateway.
	Remedy func(ctx context.Context, owner, svc int, w string) error
}

// Options configure a rehearsal.
type Options struct {
	// Scenario is the rehearsed one, already renamed with Suffix.
	Scenario *scenarios.Scenario
	// Driver is the scratch range's driver name.
	Driver  string
	Targets target.Set
	// DataDir is the scratch exercise's data directory (its tokens).
	DataDir string
	// Up brings the scratch range up; an error is the "range up" check's.
	Up func(ctx context.Context) (*Range, error)
	// BeforeExploits runs once the flags are planted, before any exploit:
	// a test makes the target disagree with the scenario here.
	BeforeExploits func(ctx context.Context, r *Rehearsal) error
	Logger         *slog.Logger
}

// Check is one line of the report.
type Check struct {
	Check  string `json:"check"`
	Target string `json:"target"`
	// Result is pass, fail or skip (a check the driver cannot make).
	Result string `json:"result"`
	Reason string `json:"reason,omitempty"`
}

// Results of a check.
const (
	Pass = "pass"
	Fail = "fail"
	Skip = "skip"
)

// Rehearsal is one pre-flight check of a scenario.
type Rehearsal struct {
	o       Options
	rg      *Range
	cfg     *scoreboard.Config
	toks    *tokens.Set
	results []Check
	round   int64
	// flags maps every flag planted to "<owner>/<service>/<store>".
	flags map[string]string
	// infos are the attack info of each replica's flags ("owner/svc").
	infos map[string][]string
}

// New prepares a rehearsal.
func New(o Options) *Rehearsal {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Rehearsal{o: o, flags: map[string]string{}, infos: map[string][]string{}}
}

// Config is the scratch game's configuration, once the range is up.
func (r *Rehearsal) Config() *scoreboard.Config { return r.cfg }

// Remedy applies a remedy to a replica of the scratch range (for
// BeforeExploits).
func (r *Rehearsal) Remedy(ctx context.Context, rp scoreboard.Replica, w string) error {
	return r.rg.Remedy(ctx, rp.Owner, rp.Service, w)
}

// Checks are the checks made so far.
func (r *Rehearsal) Checks() []Check { return r.results }

// Record adds a check's result (a failure when err is set) and says
// whether it passed.
func (r *Rehearsal) Record(check, target string, err error) bool {
	res := Check{Check: check, Target: target, Result: Pass}
	if err != nil {
		res.Result, res.Reason = Fail, err.Error()
	}
	r.results = append(r.results, res)
	return err == nil
}

func (r *Rehearsal) skip(check, target, reason string) {
	r.results = append(r.results, Check{Check: check, Target: target, Result: Skip, Reason: reason})
}

// Ready says whether no check failed.
func (r *Rehearsal) Ready() bool { return r.FirstFailure() == "" }

// FirstFailure describes the first failed check and counts the others.
func (r *Rehearsal) FirstFailure() string {
	n, first := 0, ""
	for _, res := range r.results {
		if res.Result == Fail {
			if n == 0 {
				first = fmt.Sprintf("%s %s: %s", res.Check, res.Target, res.Reason)
			}
			n++
		}
	}
	if n > 1 {
		first += fmt.Sprintf(" (and %d more failures)", n-1)
	}
	return first
}

// Print writes the report as a table and a verdict.
func (r *Rehearsal) Print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tTARGET\tRESULT\tREASON")
	pass := 0
	for _, res := range r.results {
		reason := res.Reason
		if reason == "" {
			reason = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", res.Check, res.Target, strings.ToUpper(res.Result), reason)
		if res.Result == Pass {
			pass++
		}
	}
	tw.Flush()
	verdict := "READY"
	if !r.Ready() {
		verdict = "NOT READY"
	}
	fmt.Fprintf(w, "\n%d of %d checks passed: %s\n", pass, len(r.results), verdict)
}

// WriteJSON writes the report as JSON.
func (r *Rehearsal) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Scenario string  `json:"scenario"`
		Driver   string  `json:"driver"`
		Ready    bool    `json:"ready"`
		Checks   []Check `json:"checks"`
	}{r.o.Scenario.Name, r.o.Driver, r.Ready(), r.results})
}

// Run brings the scratch range up and makes every check; failures are
// recorded, never returned. The caller takes the range down.
func (r *Rehearsal) Run(ctx context.Context) {
	sc := r.o.Scenario
	rg, err := r.o.Up(ctx)
	if !r.Record("range up", sc.Name, err) {
		return
	}
	r.rg = rg
	if rep, err := rg.Status(ctx); err != nil || !rep.Healthy {
		if err == nil {
			err = fmt.Errorf("%d of %d containers running", rep.Running, rep.Total)
		}
		r.Record("range healthy", sc.Name, err)
		return
	}
	r.cfg = sc.GameConfig(rg.Plan.Placement())
	if !r.Record("range healthy", sc.Name, r.waitListening(ctx)) {
		return
	}
	if r.toks, err = tokens.Load(r.o.DataDir, r.cfg.Teams, true); !r.Record("team tokens", sc.Name, err) {
		return
	}
	r.round = 1
	for _, rp := range r.cfg.Replicas {
		r.checkReplica(ctx, rp, true)
	}
	r.checkGateways(ctx)
	r.checkDefenceGateways(ctx)
	if r.o.BeforeExploits != nil {
		if err := r.o.BeforeExploits(ctx, r); err != nil {
			r.Record("before exploits", sc.Name, err)
			return
		}
	}
	r.checkChains(ctx, false)
	for _, rp := range r.cfg.Replicas {
		r.checkExploits(ctx, rp)
	}
	r.checkChains(ctx, true)
}

func (r *Rehearsal) replicaName(rp scoreboard.Replica) string {
	return r.cfg.Teams[rp.Owner].Name + "/" + r.cfg.Services[rp.Service].Name
}

// NewFlag makes a flag of the game's format.
func NewFlag() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, 31)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b) + "="
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
