package docker

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/scenarios"
	"github.com/cyrange/cyrange/scoreboard"
	"github.com/cyrange/cyrange/scoreboard/ingest"
	"github.com/cyrange/cyrange/scoreboard/scoreboardtest"
)

// checkBoxGroundTruth: traffic from a team's attack box to a target
// passes no gateway; the target's own flow records bring it to the game's
// ground truth all the same, attributed to the team: an incident of the
// team that a report naming it credits.
func checkBoxGroundTruth(t *testing.T, d *Driver, p *cyberrange.Plan, sc *scenarios.Scenario, box cyberrange.Container, c *ssh.Client) {
	t.Helper()
	ctx := t.Context()
	log := &scoreboardtest.MemLog{}
	g, err := scoreboard.NewGame(ctx, scoreboard.Options{Config: sc.GameConfig(p.Placement()), Log: log,
		Key: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	col, err := ingest.New(ingest.Options{Plan: p, Logs: d, Game: g, Retry: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { col.Run(cctx) })
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	if err := g.Act(ctx, scoreboard.ActStart); err != nil {
		t.Fatal(err)
	}
	if err := g.StartTick(ctx); err != nil {
		t.Fatal(err)
	}

	owner := -1
	for i, tm := range sc.Teams {
		if tm.Role.CanDefend() {
			owner = i
		}
	}
	addr, ok := p.TeamAddress(box.Team, owner, 0)
	if !ok {
		t.Fatal("no target on the box's network")
	}
	imap := 0
	for _, port := range p.ReplicaPorts(owner, 0) {
		if port.Name == "imap" {
			imap = port.Number
		}
	}
	// Straight from the box to the target's IMAP port: greeting, NOOP,
	// LOGOUT.
	seen := time.Now()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out, err := sess.CombinedOutput(fmt.Sprintf(`printf 'a1 NOOP\r\na2 LOGOUT\r\n' | nc -q 2 -w 10 %s %d`, addr, imap))
	sess.Close()
	if err != nil || !strings.HasPrefix(string(out), "* OK") {
		t.Fatalf("IMAP from the box: %v\n%s", err, out)
	}
	for end := time.Now().Add(60 * time.Second); col.Stats().Flows == 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("the target's flow records of the box's connection never reached the game: %+v", col.Stats())
		}
	}
	if err := g.StartTick(ctx); err != nil {
		t.Fatal(err)
	}
	st, err := scoreboard.Replay(ctx, g.Config(), log, 0)
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, in := range st.Incidents {
		found = found || (int(in.Team) == box.Team && int(in.Owner) == owner && in.Conns >= 1)
	}
	if !found {
		t.Fatalf("no incident of team %d against the target: %+v (collector %+v)", box.Team, st.Incidents, col.Stats())
	}
	ack, err := g.ReportDetection(ctx, owner, scoreboard.DetectionInput{Attacker: box.Networks[0].Address.String(),
		Service: sc.Services[0].Name, SeenAt: seen})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range g.DetectionReports(owner) {
		if v.ID == ack.ID && v.Verdict != "true_positive" {
			t.Fatalf("a report naming the box's address judged %s, want true_positive", v.Verdict)
		}
	}
}
