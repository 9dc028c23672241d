package scoreboard

import (
	"context"
	"testing"
	"time"
)

// sensor plays one source of telemetry (a gateway or a target's flow
// recorder) of defenceConfig: team 0's, towards the defence's mail.
type sensor struct {
	g      *Game
	clk    *fakeClock
	source string
	run    string
}

func (s *sensor) rec(state ConnState, id uint64, start time.Time, up int64) {
	c := Conn{Team: 0, Owner: 3, Service: 0, Start: start, At: s.clk.Now(), BytesUp: up, BytesDown: 2 * up,
		State: state, Source: s.source, Run: s.run, ID: id}
	if state == ConnClose {
		c.End = c.At
	}
	s.g.ObserveConns([]Conn{c})
}

func (s *sensor) beat() { s.beatAt(s.clk.Now()) }

// beatAt is a heartbeat that says the sensor's records are complete up to
// at, which a sensor whose clock is behind says late.
func (s *sensor) beatAt(at time.Time) { s.g.ObserveWatermark(s.source, s.run, at) }

// incidents returns the incidents of the log so far, as a replay of it
// folds them.
func incidents(t *testing.T, g *Game, log *memLog) []Incident {
	t.Helper()
	st, err := Replay(context.Background(), g.cfg, log, 0)
	mustNoErr(t, err)
	return st.Incidents
}

// checkReplay holds the live game to what its log implies: every verdict
// is the rules' at its place in the log, and a replay's standings are the
// game's own, bit for bit.
func checkReplay(t *testing.T, g *Game, log *memLog) {
	t.Helper()
	ctx := context.Background()
	_, err := VerifyJudgements(ctx, g.cfg, log)
	mustNoErr(t, err)
	rep, err := Replay(ctx, g.cfg, log, 0)
	mustNoErr(t, err)
	if !equalStandings(rep.Standings(), g.FullView().Standings) {
		t.Fatalf("replay differs:\n%+v\n%+v", rep.Standings(), g.FullView().Standings)
	}
}

// TestHeldConnectionCountsEveryTick: a connection counts from its open
// record, in every tick it stays open, and no longer once it closed; it
// is one connection however many ticks it spans.
func TestHeldConnectionCountsEveryTick(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	g, log := newDefenceGame(t, clk)
	gw := &sensor{g: g, clk: clk, source: "gateway-a01", run: "r1"}
	clk.Add(10 * time.Second)
	opened := clk.Now()
	gw.rec(ConnOpen, 1, opened, 0)
	for range 3 {
		// Interim records every 5 s while it is open.
		for range 10 {
			clk.Add(5 * time.Second)
			gw.rec(ConnInterim, 1, opened, 10)
			gw.beat()
		}
		mustNoErr(t, g.StartTick(ctx))
	}
	ins := incidents(t, g, log)
	if len(ins) != 1 || ins[0].FirstTick != 1 || ins[0].LastTick != 3 || ins[0].Conns != 1 || !ins[0].First.Equal(opened) ||
		ins[0].BytesUp != 300 || ins[0].BytesDown != 600 {
		t.Fatalf("incidents %+v, want one of ticks 1 to 3 with 1 connection and 300 bytes up", ins)
	}
	clk.Add(5 * time.Second)
	gw.rec(ConnClose, 1, opened, 7)
	mustNoErr(t, g.StartTick(ctx)) // tick 4 saw its end
	clk.Add(time.Minute)
	gw.beat()
	mustNoErr(t, g.StartTick(ctx)) // tick 5 did not
	ins = incidents(t, g, log)
	if len(ins) != 1 || ins[0].LastTick != 4 || ins[0].Conns != 1 || ins[0].BytesUp != 307 {
		t.Fatalf("after the close: %+v", ins)
	}
	checkReplay(t, g, log)
}

// TestKilledSensorsConnectionsEnd: an open connection of a sensor that
// falls silent (its gateway was killed) ends once the staleness bound
// passes, and a sensor that comes back as a new process ends the old
// process's connections at once.
func TestKilledSensorsConnectionsEnd(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	g, log := newDefenceGame(t, clk)
	gw := &sensor{g: g, clk: clk, source: "gateway-a01", run: "r1"}
	clk.Add(5 * time.Second)
	gw.rec(ConnOpen, 1, clk.Now(), 0)
	clk.Add(10 * time.Second)
	mustNoErr(t, g.StartTick(ctx)) // tick 1: opened
	clk.Add(DefaultTelemetryStale / 4)
	mustNoErr(t, g.StartTick(ctx)) // tick 2: silent for less than the bound, still open
	if ins := incidents(t, g, log); len(ins) != 1 || ins[0].LastTick != 2 {
		t.Fatalf("while it may be open: %+v", ins)
	}
	clk.Add(DefaultTelemetryStale)
	mustNoErr(t, g.StartTick(ctx)) // tick 3: silent past the bound, ended
	clk.Add(time.Minute)
	mustNoErr(t, g.StartTick(ctx))
	if ins := incidents(t, g, log); len(ins) != 1 || ins[0].LastTick != 2 {
		t.Fatalf("after the gateway fell silent: %+v", ins)
	}

	// A new connection, then the gateway restarts: its new process's
	// heartbeat ends the old process's connections at once.
	gw.rec(ConnOpen, 2, clk.Now(), 0)
	clk.Add(time.Second)
	mustNoErr(t, g.StartTick(ctx)) // tick 5: opened
	restarted := &sensor{g: g, clk: clk, source: "gateway-a01", run: "r2"}
	restarted.beat()
	clk.Add(time.Second)
	mustNoErr(t, g.StartTick(ctx)) // tick 6: gone with its process
	ins := incidents(t, g, log)
	if len(ins) != 2 || ins[1].FirstTick != 5 || ins[1].LastTick != 5 {
		t.Fatalf("after the restart: %+v", ins)
	}
	checkReplay(t, g, log)
}

// TestReportWaitsForGroundTruth: a report filed just before a tick ends,
// whose telemetry reaches the game just after, is not judged false at the
// tick's end: it waits until every live source has reported past its
// time, and is then a true positive. The wait is bounded: a source that
// lags or is gone holds no report longer than the staleness bound.
func TestReportWaitsForGroundTruth(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	g, log := newDefenceGame(t, clk)
	gw := &sensor{g: g, clk: clk, source: "gateway-a01", run: "r1"}
	box := &sensor{g: g, clk: clk, source: "mail-d01", run: "t1"}
	clk.Add(55 * time.Second)
	gw.beat()
	box.beat()
	// The attack begins at 58 s and is reported at 59 s; its open record
	// is still on its way when the tick ends at 60 s.
	clk.Add(3 * time.Second)
	opened := clk.Now()
	clk.Add(time.Second)
	_, err := g.ReportDetection(ctx, 3, input("Đội tấn công 01", opened))
	mustNoErr(t, err)
	clk.Add(time.Second)
	mustNoErr(t, g.StartTick(ctx))
	if v := g.DetectionReports(3)[0]; v.Verdict != "pending" {
		t.Fatalf("judged %s before its ground truth was in", v.Verdict)
	}
	clk.Add(100 * time.Millisecond)
	gw.rec(ConnOpen, 1, opened, 0)
	gw.rec(ConnClose, 1, opened, 5)
	for range 11 {
		clk.Add(5 * time.Second)
		gw.beat()
		box.beat()
	}
	mustNoErr(t, g.StartTick(ctx))
	v := g.DetectionReports(3)[0]
	if v.Verdict != "true_positive" || v.TimeToDetect == nil || *v.TimeToDetect != 1 {
		t.Fatalf("verdict %+v, want a true positive 1 s after the attack began", v)
	}

	// A report no telemetry backs, while the target's recorder lags (its
	// clock is behind, say): it waits, then is judged false once the
	// bound has passed.
	clk.Add(time.Second)
	lag := clk.Now()
	clk.Add(10 * time.Second)
	gw.beat()
	_, err = g.ReportDetection(ctx, 3, input("Đội tấn công 02", clk.Now()))
	mustNoErr(t, err)
	clk.Add(time.Second)
	gw.beat()
	box.beatAt(lag)
	mustNoErr(t, g.StartTick(ctx))
	if v := g.DetectionReports(3)[1]; v.Verdict != "pending" {
		t.Fatalf("judged %s while a live source lagged", v.Verdict)
	}
	clk.Add(DefaultTelemetryStale)
	gw.beat()
	box.beatAt(lag) // alive, still behind the report
	mustNoErr(t, g.StartTick(ctx))
	if v := g.DetectionReports(3)[1]; v.Verdict != "false_positive" {
		t.Fatalf("verdict %s once the bound passed, want false_positive", v.Verdict)
	}

	// A source that is gone holds nothing: with the recorder silent, a
	// report is judged at the next tick's end the gateway has passed.
	clk.Add(DefaultTelemetryStale + time.Second)
	gw.beat()
	_, err = g.ReportDetection(ctx, 3, input("Đội tấn công 03", clk.Now()))
	mustNoErr(t, err)
	clk.Add(time.Second)
	gw.beat()
	mustNoErr(t, g.StartTick(ctx))
	if v := g.DetectionReports(3)[2]; v.Verdict != "false_positive" {
		t.Fatalf("verdict %s with the silent source gone, want false_positive", v.Verdict)
	}
	checkReplay(t, g, log)
}

// TestEndJudgesEverything: the game's end judges every report on the
// telemetry there is, whatever the sources' watermarks.
func TestEndJudgesEverything(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	g, log := newDefenceGame(t, clk)
	gw := &sensor{g: g, clk: clk, source: "gateway-a01", run: "r1"}
	gw.beat()
	clk.Add(time.Second)
	_, err := g.ReportDetection(ctx, 3, input("Đội tấn công 01", clk.Now()))
	mustNoErr(t, err)
	mustNoErr(t, g.StartTick(ctx))
	if v := g.DetectionReports(3)[0]; v.Verdict != "pending" {
		t.Fatalf("judged %s", v.Verdict)
	}
	mustNoErr(t, g.Act(ctx, ActEnd))
	if v := g.DetectionReports(3)[0]; v.Verdict != "false_positive" {
		t.Fatalf("at the end: %s", v.Verdict)
	}
	checkReplay(t, g, log)
}

// TestWholeRecordsStillCount: records of whole connections (older
// gateways) count as before, once, in the tick they arrive.
func TestWholeRecordsStillCount(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	g, log := newDefenceGame(t, clk)
	g.ObserveConns([]Conn{conn(0, clk.Now(), time.Second), conn(0, clk.Now().Add(2*time.Second), time.Second)})
	clk.Add(time.Minute)
	mustNoErr(t, g.StartTick(ctx))
	clk.Add(time.Minute)
	mustNoErr(t, g.StartTick(ctx))
	if ins := incidents(t, g, log); len(ins) != 1 || ins[0].Conns != 2 || ins[0].LastTick != 1 {
		t.Fatalf("incidents %+v", ins)
	}
}

// TestTelemetryOutlivesAFailedAppend: when the log refuses a tick's
// summaries, the connections they summed are not lost: the next close
// writes them, and the report on them is judged against them.
func TestTelemetryOutlivesAFailedAppend(t *testing.T) {
	ctx := context.Background()
	clk := newClock()
	g, log := newDefenceGame(t, clk)
	gw := &sensor{g: g, clk: clk, source: "gateway-a01", run: "r1"}
	clk.Add(10 * time.Second)
	start := clk.Now()
	gw.rec(ConnOpen, 1, start, 0)
	clk.Add(time.Second)
	gw.rec(ConnClose, 1, start, 40)
	gw.beat()
	log.mu.Lock()
	log.fail = errDiskFull
	log.mu.Unlock()
	if err := g.StartTick(ctx); err == nil {
		t.Fatal("the tick closed on a log that refuses writes")
	}
	log.mu.Lock()
	log.fail = nil
	log.mu.Unlock()
	mustNoErr(t, g.StartTick(ctx))
	ins := incidents(t, g, log)
	if len(ins) != 1 || ins[0].Conns != 1 || ins[0].BytesUp != 40 || !ins[0].First.Equal(start) {
		t.Fatalf("incidents %+v, want the connection of the refused close", ins)
	}
	checkReplay(t, g, log)
}
