package scoreboard

import (
	"context"
	"encoding/json"
	"fmt"
)

// EventSource reads an event log in order; every Log is one.
type EventSource interface {
	Iterate(ctx context.Context, from uint64, fn func(seq uint64, rec []byte) error) error
}

// VerifyJudgements folds the log from its first event and, before each
// KindDetectionJudged event, judges its report again on the state the log
// before it implies. It returns how many verdicts it checked, and an error
// naming the first one that differs: verdicts are events the game appends,
// and this proves each is what the rules give at its place in the log.
func VerifyJudgements(ctx context.Context, cfg *Config, src EventSource) (int, error) {
	st := NewState(cfg)
	checked := 0
	err := src.Iterate(ctx, 1, func(seq uint64, rec []byte) error {
		e, err := Decode(seq, rec)
		if err != nil {
			return err
		}
		if e.Kind == KindDetectionJudged {
			if err := st.verifyJudged(&e); err != nil {
				return err
			}
			checked++
		}
		_, err = st.Apply(&e)
		return err
	})
	if err != nil {
		return checked, fmt.Errorf("scoreboard: verifying judgements: %w", err)
	}
	return checked, nil
}

func (s *State) verifyJudged(e *Event) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("event %d: report %d: %s: %w", e.Seq, e.Value, fmt.Sprintf(format, args...), ErrConflict)
	}
	if e.Value < 1 || e.Value > int64(len(s.Reports)) {
		return bad("no such report")
	}
	r := &s.Reports[e.Value-1]
	if r.Verdict != VerdictPending {
		return bad("judged twice")
	}
	var j judgement
	if err := json.Unmarshal([]byte(e.Text), &j); err != nil {
		return bad("undecodable verdict: %v", err)
	}
	v, _ := s.judge(r, true, nil)
	if v.code != e.Code || v.points != j.Points || (v.code != VerdictFalse && v.incident != j.Incident) {
		return bad("logged %s %v (incident %d), the rules give %s %v (incident %d)",
			VerdictName(e.Code), j.Points, j.Incident, VerdictName(v.code), v.points, v.incident)
	}
	return nil
}

// VerifySnapshot folds the log from its first event up to its latest
// stored snapshot and compares the standings of both, team by team and
// figure by figure: a snapshot is what a restart folds on from, and this
// proves it says what the log does. It returns the snapshot's sequence (0
// without one) and, when they differ, the first difference.
func VerifySnapshot(ctx context.Context, cfg *Config, log Log) (seq uint64, mismatch string, err error) {
	seq, data, ok, err := log.LatestSnapshot()
	if err != nil || !ok {
		return 0, "", err
	}
	stored, err := DecodeState(cfg, data)
	if err != nil {
		return 0, "", err
	}
	rep, err := Replay(ctx, cfg, log, seq)
	if err != nil {
		return 0, "", err
	}
	a, b := stored.Standings(), rep.Standings()
	for i := range a {
		if a[i] != b[i] {
			return seq, fmt.Sprintf("team %q: stored %+v, replayed %+v", a[i].Team, a[i], b[i]), nil
		}
	}
	return seq, "", nil
}

// Audit is an exercise's log replayed and checked against what it
// recorded: the standings the replay gives, the stored standings it was
// compared with, and every detection verdict judged again.
type Audit struct {
	Standings []Standing
	// Events is the last event replayed; VerifiedUpTo the event of the
	// stored standings compared (0: none stored), Mismatch what differed.
	Events, VerifiedUpTo uint64
	Mismatch             string
	// Verdicts were judged again; VerdictErr is the first that differed.
	Verdicts   int
	VerdictErr error
}

// OK says whether the log agrees with itself.
func (a Audit) OK() bool { return a.Mismatch == "" && a.VerdictErr == nil }

// AuditLog replays log from its start and checks it; an error is one of
// reading the log, not a disagreement (see Audit.OK).
func AuditLog(ctx context.Context, cfg *Config, log Log) (Audit, error) {
	full, err := Replay(ctx, cfg, log, 0)
	if err != nil {
		return Audit{}, err
	}
	a := Audit{Standings: full.Standings(), Events: full.LastSeq}
	if a.VerifiedUpTo, a.Mismatch, err = VerifySnapshot(ctx, cfg, log); err != nil {
		return Audit{}, err
	}
	a.Verdicts, a.VerdictErr = VerifyJudgements(ctx, cfg, log)
	return a, nil
}
