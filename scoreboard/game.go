package scoreboard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Log is the durable, append-only event log the game writes first. The
// store package implements it.
type Log interface {
	// Append makes recs durable with consecutive sequences and calls
	// applied(first) once they are, before returning; the calls of all
	// Appends happen in sequence order, one at a time.
	Append(ctx context.Context, recs [][]byte, applied func(first uint64)) (uint64, error)
	// Iterate calls fn for each record with seq >= from, in order; rec is
	// valid only during the call.
	Iterate(ctx context.Context, from uint64, fn func(seq uint64, rec []byte) error) error
	PutSnapshot(ctx context.Context, seq uint64, data []byte) error
	LatestSnapshot() (seq uint64, data []byte, ok bool, err error)
}

// TickChecker runs one tick's checker tasks against every replica and
// reports what it found. The checks package implements it.
type TickChecker interface {
	CheckTick(ctx context.Context, plan TickPlan) []ReplicaCheck
}

// TickPlan is what the checkers must do in one tick.
type TickPlan struct {
	Tick     int32
	Started  time.Time
	Length   time.Duration
	Deadline time.Time
	Regex    string
	Replicas []ReplicaPlan
}

// ReplicaPlan is one replica's share of a tick: plant Put (one flag per
// store), retrieve Get (flags of earlier ticks that were planted).
type ReplicaPlan struct {
	Owner       int
	OwnerName   string
	Service     int
	ServiceName string
	Address     string
	Put         []PlannedFlag
	Get         []PlannedFlag
}

// PlannedFlag is one flag and its slot.
type PlannedFlag struct {
	ID   FlagID
	Flag string
}

// ReplicaCheck is the outcome of a replica's tasks in a tick: Status is the
// worst of its tasks (OK, MUMBLE, OFFLINE, or INTERNAL_ERROR when only the
// checker failed).
type ReplicaCheck struct {
	Tick    int32
	Owner   int
	Service int
	Status  Status
	Message string
	Planted []Planted
}

// Planted is one putflag's outcome.
type Planted struct {
	ID         FlagID
	OK         bool
	AttackInfo string
}

// Listener hears every applied event batch, in log order, on the log's
// committer goroutine: it must return quickly and never call back into the
// game while holding its own locks.
type Listener func(evs []Event, applied []Applied)

// Options configure a Game.
type Options struct {
	Config  *Config
	Log     Log
	Key     []byte
	Checker TickChecker
	Logger  *slog.Logger
	Now     func() time.Time
	// After returns a channel that fires after d; tests replace it.
	After func(d time.Duration) <-chan time.Time
	// SnapshotEvery is how many events may pass between snapshots; 0
	// means 100,000.
	SnapshotEvery uint64
	// TelemetryStale is how long a telemetry source or an open connection
	// may stay silent before the game takes it for gone, and so the
	// longest a report waits for a source that lags; 0 means
	// DefaultTelemetryStale.
	TelemetryStale time.Duration
}

// Game is the running exercise: it validates what comes in, writes it to
// the log, and folds it into the state once durable.
type Game struct {
	cfg     *Config
	log     Log
	flags   *Flags
	checker TickChecker
	logger  *slog.Logger
	now     func() time.Time
	after   func(time.Duration) <-chan time.Time
	snapN   uint64

	mu        sync.RWMutex
	st        *State
	pending   map[capKey]struct{}
	listeners []Listener
	snapSeq   uint64
	wake      chan struct{}
	checksWG  sync.WaitGroup
	nets      []netip.Prefix

	// judgeMu orders judging against what judging reads: a report's
	// judgement and the end of a tick (telemetry, final judgements, the
	// next tick) hold it exclusively from reading the state to appending
	// their events, and a capture's append holds it shared, so every
	// verdict is the one the log before it implies (VerifyJudgements).
	judgeMu sync.RWMutex
	// actMu makes a phase change, and the start of a tick, one step
	// from reading the phase to appending, so that two of them (a pause
	// racing the automatic freeze, or the next tick) never decide on the
	// same state. It is taken after judgeMu, never before.
	actMu sync.Mutex

	// failed is closed, with failErr, when the log has failed for good.
	failed   chan struct{}
	failOnce sync.Once
	failErr  error

	// The current tick's telemetry, summarised at its end; the open
	// connections, which count in every tick they are open; and the
	// sources of telemetry, whose watermarks judging waits for.
	telMu      sync.Mutex
	tel        map[[3]int16]*telAgg
	telIgnored int64
	live       map[liveKey]liveConn
	sources    map[string]*telSource
	stale      time.Duration
}

type capKey struct {
	team int16
	id   FlagID
}

// NewGame restores the game from the log (latest snapshot, then the events
// after it) and returns it ready to Run.
func NewGame(ctx context.Context, o Options) (*Game, error) {
	if o.Config == nil || o.Log == nil {
		return nil, fmt.Errorf("scoreboard: game needs a config and a log: %w", ErrInvalid)
	}
	if err := o.Config.Validate(); err != nil {
		return nil, err
	}
	fl, err := NewFlags(o.Key, o.Config.FlagPrefix)
	if err != nil {
		return nil, err
	}
	g := &Game{cfg: o.Config, log: o.Log, flags: fl, checker: o.Checker, logger: o.Logger,
		now: o.Now, after: o.After, snapN: o.SnapshotEvery,
		pending: map[capKey]struct{}{}, wake: make(chan struct{}, 1), failed: make(chan struct{}), tel: map[[3]int16]*telAgg{},
		live: map[liveKey]liveConn{}, sources: map[string]*telSource{}, stale: o.TelemetryStale}
	if g.logger == nil {
		g.logger = slog.New(slog.DiscardHandler)
	}
	if g.now == nil {
		g.now = time.Now
	}
	if g.after == nil {
		g.after = time.After
	}
	if g.snapN == 0 {
		g.snapN = 100_000
	}
	if g.stale <= 0 {
		g.stale = DefaultTelemetryStale
	}
	for _, t := range o.Config.Teams {
		p, err := netip.ParsePrefix(t.Network)
		if err != nil {
			p = netip.Prefix{}
		}
		g.nets = append(g.nets, p.Masked())
	}
	st, err := Restore(ctx, o.Config, o.Log)
	if err != nil {
		return nil, err
	}
	g.st = st
	g.snapSeq = st.LastSeq
	return g, nil
}

// Restore folds the log into a state, starting from its latest snapshot
// when one exists and fits the config.
func Restore(ctx context.Context, cfg *Config, log Log) (*State, error) {
	st := NewState(cfg)
	seq, data, ok, err := log.LatestSnapshot()
	if err != nil {
		return nil, fmt.Errorf("scoreboard: reading snapshot: %w", err)
	}
	if ok {
		if s, err := DecodeState(cfg, data); err == nil && s.LastSeq == seq {
			st = s
		}
	}
	return st, foldLog(ctx, st, log, st.LastSeq+1, 0)
}

// Replay folds the whole log from its first event, ignoring snapshots.
// If upTo is non-zero, it stops after event upTo.
func Replay(ctx context.Context, cfg *Config, log Log, upTo uint64) (*State, error) {
	st := NewState(cfg)
	return st, foldLog(ctx, st, log, 1, upTo)
}

var errStop = errors.New("stop")

func foldLog(ctx context.Context, st *State, log Log, from, upTo uint64) error {
	err := log.Iterate(ctx, from, func(seq uint64, rec []byte) error {
		if upTo != 0 && seq > upTo {
			return errStop
		}
		e, err := Decode(seq, rec)
		if err != nil {
			return err
		}
		_, err = st.Apply(&e)
		return err
	})
	if err != nil && !errors.Is(err, errStop) {
		return fmt.Errorf("scoreboard: folding the log: %w", err)
	}
	return nil
}

// Config returns the game's configuration; callers must not modify it.
func (g *Game) Config() *Config { return g.cfg }

// Flags returns the game's flag codec.
func (g *Game) Flags() *Flags { return g.flags }

// Subscribe adds a listener for applied events.
func (g *Game) Subscribe(l Listener) {
	g.mu.Lock()
	g.listeners = append(g.listeners, l)
	g.mu.Unlock()
}

// append writes evs to the log and folds them once durable. It returns what
// each event did.
func (g *Game) append(ctx context.Context, evs []Event) ([]Applied, error) {
	recs := make([][]byte, len(evs))
	for i := range evs {
		if len(evs[i].Text) > maxText {
			return nil, fmt.Errorf("scoreboard: event text of %d bytes: %w", len(evs[i].Text), ErrInvalid)
		}
		recs[i] = evs[i].AppendEncode(make([]byte, 0, fixedLen+8+len(evs[i].Text)))
	}
	applied := make([]Applied, len(evs))
	var applyErr error
	_, err := g.log.Append(ctx, recs, func(first uint64) {
		g.mu.Lock()
		for i := range evs {
			evs[i].Seq = first + uint64(i)
			a, err := g.st.Apply(&evs[i])
			if err != nil && applyErr == nil {
				applyErr = err
			}
			applied[i] = a
		}
		ls := g.listeners
		g.mu.Unlock()
		for _, l := range ls {
			l(evs, applied)
		}
	})
	if err != nil {
		var p permanent
		if errors.As(err, &p) && p.Permanent() {
			g.failOnce.Do(func() {
				g.failErr = err
				close(g.failed)
			})
		}
		return nil, fmt.Errorf("scoreboard: appending %d events: %w", len(evs), err)
	}
	if applyErr != nil {
		g.logger.Error("event refused by the fold", "err", applyErr)
	}
	return applied, nil
}

// permanent is a log error after which the log takes no more writes until
// it is reopened (a commit whose fsync failed): the game stops then, so
// that the exercise does not run on recording nothing, and a restart
// reopens the log.
type permanent interface{ Permanent() bool }

// Code is a submission verdict's code, as the submission protocols name it.
type Code uint8

// Verdict codes (PROTOCOLS.md §1).
const (
	CodeOK Code = iota
	CodeDUP
	CodeOWN
	CodeOLD
	CodeINV
	CodeERR
)

var codeNames = [...]string{"OK", "DUP", "OWN", "OLD", "INV", "ERR"}

func (c Code) String() string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return "ERR"
}

// Verdict is the answer to one submitted flag. Msg holds the key words the
// farms look for ("Accepted", "already submitted", "your own", "too old",
// "invalid flag", "try again later").
type Verdict struct {
	Code   Code
	Msg    string
	Points float64
}

// Messages of the verdicts that do not depend on the flag.
const (
	MsgDup        = "already submitted"
	MsgOwn        = "this is your own flag"
	MsgOld        = "flag is too old"
	MsgInvalid    = "invalid flag"
	MsgNotStarted = "game not started"
	MsgOver       = "game over"
	MsgPaused     = "game paused, try again later"
	MsgStorage    = "storage busy, try again later"
	// MsgAwaitTelemetry is an accepted capture's message while its points
	// wait for the gateway's telemetry (require_telemetry).
	MsgAwaitTelemetry = "Accepted: scored at the tick's end once the gateway telemetry confirms it"
)

// PhaseError says why no flag is taken now, or "" when flags are taken.
func (g *Game) PhaseError() string {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return phaseMsg(g.st.Phase)
}

func phaseMsg(p Phase) string {
	switch p {
	case PhaseSetup:
		return MsgNotStarted
	case PhasePaused:
		return MsgPaused
	case PhaseEnded:
		return MsgOver
	}
	return ""
}

// Submit judges flags submitted by team and records the captures. Verdicts
// come back in submission order; an OK is returned only once its capture
// is durable. The error is non-nil only when the team may not submit.
func (g *Game) Submit(ctx context.Context, team int, flags [][]byte) ([]Verdict, error) {
	if team < 0 || team >= len(g.cfg.Teams) {
		return nil, fmt.Errorf("scoreboard: submit: team %d: %w", team, ErrNotFound)
	}
	if !g.cfg.Teams[team].Role.Attacks() {
		return nil, fmt.Errorf("scoreboard: submit: team %q does not attack: %w", g.cfg.Teams[team].Name, ErrForbidden)
	}
	out := make([]Verdict, len(flags))
	ids := make([]FlagID, len(flags))
	// Verify every flag before taking any lock: a forged flag costs one
	// HMAC and nothing else.
	valid := make([]bool, len(flags))
	for i, f := range flags {
		ids[i], valid[i] = g.flags.Parse(f)
	}
	now := g.now()
	var evs []Event
	var idx []int
	g.mu.Lock()
	st := g.st
	pm := phaseMsg(st.Phase)
	for i := range flags {
		id := ids[i]
		switch {
		case pm != "":
			out[i] = Verdict{Code: CodeERR, Msg: pm}
		case !valid[i] || id.Tick > st.Tick || int(id.Owner) >= len(g.cfg.Teams) ||
			int(id.Service) >= len(g.cfg.Services) || int(id.Store) >= len(g.cfg.Services[id.Service].Stores):
			out[i] = Verdict{Code: CodeINV, Msg: MsgInvalid}
		case int(id.Owner) == team:
			out[i] = Verdict{Code: CodeOWN, Msg: MsgOwn}
		case id.Tick <= st.Tick-int32(g.cfg.FlagLifetime):
			out[i] = Verdict{Code: CodeOLD, Msg: MsgOld}
		case g.captured(int16(team), id):
			out[i] = Verdict{Code: CodeDUP, Msg: MsgDup}
		default:
			g.pending[capKey{int16(team), id}] = struct{}{}
			evs = append(evs, Event{Time: now, Kind: KindFlagCaptured, Tick: st.Tick, FlagTick: id.Tick,
				Team: int16(team), Owner: id.Owner, Service: id.Service, Store: id.Store})
			idx = append(idx, i)
		}
	}
	g.mu.Unlock()
	if len(evs) == 0 {
		return out, nil
	}
	g.judgeMu.RLock()
	applied, err := g.append(ctx, evs)
	g.judgeMu.RUnlock()
	g.mu.Lock()
	for _, e := range evs {
		delete(g.pending, capKey{e.Team, FlagID{Tick: e.FlagTick, Owner: e.Owner, Service: e.Service, Store: e.Store}})
	}
	g.mu.Unlock()
	for k, i := range idx {
		if err != nil {
			g.logger.Error("capture not recorded", "team", g.cfg.Teams[team].Name, "err", err)
			out[i] = Verdict{Code: CodeERR, Msg: MsgStorage}
			continue
		}
		if applied[k].Pending {
			out[i] = Verdict{Code: CodeOK, Msg: MsgAwaitTelemetry}
			continue
		}
		p := applied[k].Points
		out[i] = Verdict{Code: CodeOK, Msg: fmt.Sprintf("Accepted: %s flag points", fmtPoints(p)), Points: p}
	}
	return out, nil
}

func fmtPoints(p float64) string {
	s := fmt.Sprintf("%.2f", p)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// captured reports whether team already has (or is submitting) flag id.
// The caller holds g.mu.
func (g *Game) captured(team int16, id FlagID) bool {
	if _, ok := g.pending[capKey{team, id}]; ok {
		return true
	}
	return g.st.submitted(id, team)
}

// TeamByAddr returns the team whose network holds addr.
func (g *Game) TeamByAddr(addr netip.Addr) (int, bool) {
	addr = addr.Unmap()
	for i, p := range g.nets {
		if p.IsValid() && p.Contains(addr) {
			return i, true
		}
	}
	return 0, false
}

// Actions the organizer can take on the game's phase.
const (
	ActStart  = "start"
	ActPause  = "pause"
	ActResume = "resume"
	ActFreeze = "freeze"
	ActEnd    = "end"
)

// Act moves the game's phase. It returns ErrInvalid for an unknown action
// and ErrConflict for one the current phase does not allow.
func (g *Game) Act(ctx context.Context, action string) error {
	if action == ActEnd {
		// The last tick ends with the game: its telemetry and the
		// reports still pending are settled before the end is recorded.
		g.judgeMu.Lock()
		defer g.judgeMu.Unlock()
	}
	g.actMu.Lock()
	defer g.actMu.Unlock()
	g.mu.RLock()
	p, frozen, tick := g.st.Phase, g.st.Frozen, g.st.Tick
	g.mu.RUnlock()
	next, nf, err := transition(p, frozen, action)
	if err != nil {
		return err
	}
	if next == PhaseEnded {
		if err := g.closeTick(ctx, tick, g.now(), true); err != nil {
			return err
		}
	}
	fv := int64(0)
	if nf {
		fv = 1
	}
	ev := Event{Time: g.now(), Kind: KindPhaseChanged, Code: uint8(next), Value: fv, Text: action}
	if _, err := g.append(ctx, []Event{ev}); err != nil {
		return err
	}
	g.logger.Info("phase changed", "action", action, "phase", next, "frozen", nf)
	select {
	case g.wake <- struct{}{}:
	default:
	}
	return nil
}

// transition is the phase machine: setup → running ⇄ paused; freeze while
// running or paused; end from running or paused.
func transition(p Phase, frozen bool, action string) (Phase, bool, error) {
	bad := func() (Phase, bool, error) {
		return p, frozen, fmt.Errorf("scoreboard: cannot %s while %s: %w", action, p, ErrConflict)
	}
	switch action {
	case ActStart:
		if p != PhaseSetup {
			return bad()
		}
		return PhaseRunning, frozen, nil
	case ActPause:
		if p != PhaseRunning {
			return bad()
		}
		return PhasePaused, frozen, nil
	case ActResume:
		if p != PhasePaused {
			return bad()
		}
		return PhaseRunning, frozen, nil
	case ActFreeze:
		if (p != PhaseRunning && p != PhasePaused) || frozen {
			return bad()
		}
		return p, true, nil
	case ActEnd:
		if p != PhaseRunning && p != PhasePaused {
			return bad()
		}
		return PhaseEnded, frozen, nil
	}
	return p, frozen, fmt.Errorf("scoreboard: unknown action %q (want start, pause, resume, freeze or end): %w", action, ErrInvalid)
}
