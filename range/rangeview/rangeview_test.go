package rangeview

import (
	"bytes"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/scenarios"
)

func TestProgressLine(t *testing.T) {
	tests := []struct {
		e    cyberrange.Progress
		want string
	}{
		{cyberrange.Progress{Step: cyberrange.StepTargets, Total: 18, Done: 9, Name: "cyrange-x-mail-d01", Action: cyberrange.ActionCreate, Elapsed: 412 * time.Millisecond},
			"targets  [##########..........]  9/18 create   cyrange-x-mail-d01  412ms"},
		{cyberrange.Progress{Step: cyberrange.StepNetworks, Total: 3, Done: 3, Name: "x-checkers", Action: cyberrange.ActionAdopt},
			"networks [####################] 3/3 adopt    x-checkers"},
		{cyberrange.Progress{Step: cyberrange.StepGateways, Total: 2, Done: 1, Name: "gw", Action: cyberrange.ActionStart, Err: errors.New("no image")},
			"gateways [##########..........] 1/2 start    gw  FAILED: no image"},
		{cyberrange.Progress{Step: cyberrange.StepWatch, Done: 1, Name: "t", Action: cyberrange.ActionRestart},
			"watch    restart   t"},
	}
	for _, tt := range tests {
		if got := Line(tt.e); got != tt.want {
			t.Errorf("got  %q\nwant %q", got, tt.want)
		}
	}
}

// TestPrintReportAttackBoxes: with attack boxes, each team's line says
// where its box is and the footer that the token is its password too.
func TestPrintReportAttackBoxes(t *testing.T) {
	sc, err := scenarios.Builtin("tiengiang-2023")
	if err != nil {
		t.Fatal(err)
	}
	sc = sc.Clone()
	sc.AttackBox = true
	sc.DefenceBox = true
	toks := make([]string, len(sc.Teams))
	for i := range toks {
		toks[i] = "token"
	}
	plan, err := cyberrange.NewPlan(sc, cyberrange.PlanOptions{Driver: cyberrange.DriverDocker, Version: "test", TeamTokens: toks, CheckerSecret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	Report(&b, sc, plan, cyberrange.Report{}, "/data/tokens.json")
	out := b.String()
	for _, want := range []string{"BOX (SSH", "a07@attackbox (10.60.7.3)", "d01@defencebox (10.61.1.3)",
		"Gateway and box passwords are the team tokens in /data/tokens.json"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	sc.AttackBox, sc.DefenceBox = false, false
	plan, err = cyberrange.NewPlan(sc, cyberrange.PlanOptions{Driver: cyberrange.DriverDocker, Version: "test", TeamTokens: toks, CheckerSecret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	b.Reset()
	Report(&b, sc, plan, cyberrange.Report{}, "/data/tokens.json")
	if strings.Contains(b.String(), "@attackbox") || strings.Contains(b.String(), "@defencebox") || strings.Contains(b.String(), "box passwords") {
		t.Errorf("no boxes, yet:\n%s", b.String())
	}
}

// TestPrintReportNodes: a range over several machines shows each
// container's node; one on a single engine has no such column.
func TestPrintReportNodes(t *testing.T) {
	sc, err := scenarios.Builtin("demo")
	if err != nil {
		t.Fatal(err)
	}
	toks := make([]string, len(sc.Teams))
	for i := range toks {
		toks[i] = "token"
	}
	plan, err := cyberrange.NewPlan(sc, cyberrange.PlanOptions{Driver: cyberrange.DriverDocker, Version: "test", TeamTokens: toks, CheckerSecret: "s"})
	if err != nil {
		t.Fatal(err)
	}
	rep := cyberrange.Report{Containers: []cyberrange.ContainerReport{
		{Name: "cyrange-demo-mail-d01", Kind: cyberrange.KindTarget, State: cyberrange.StateRunning, Node: "replicas-1"},
		{Name: "cyrange-demo-gateway-a01", Kind: cyberrange.KindGateway, State: cyberrange.StateRunning},
	}}
	var b bytes.Buffer
	Report(&b, sc, plan, rep, "/data/tokens.json")
	out := b.String()
	if !strings.Contains(out, "NODE") || !regexp.MustCompile(`cyrange-demo-mail-d01 .* replicas-1\n`).MatchString(out) ||
		!regexp.MustCompile(`cyrange-demo-gateway-a01 .* -\n`).MatchString(out) {
		t.Errorf("nodes not shown:\n%s", out)
	}
	for i := range rep.Containers {
		rep.Containers[i].Node = ""
	}
	b.Reset()
	Report(&b, sc, plan, rep, "/data/tokens.json")
	if strings.Contains(b.String(), "NODE") {
		t.Errorf("a node column on one engine:\n%s", b.String())
	}
}
