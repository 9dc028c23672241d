// Package rangeview draws a range for people at a terminal: the progress
// of a bring-up (or the same as JSON lines), the status of every network
// and container, and how each team gets in. The command line and the
// rehearsal print with it; it decides nothing.
package rangeview

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/range/gateway"
	"github.com/cyrange/cyrange/scenarios"
)

// Progress draws progress events: on a terminal, one line per
// finished network or container with a bar and a counter of its step; with
// --json, one JSON object per line.
type Progress struct {
	mu     sync.Mutex
	w      io.Writer
	asJSON bool
	enc    *json.Encoder
}

// NewProgress draws on w, as JSON lines when asJSON is set.
func NewProgress(w io.Writer, asJSON bool) *Progress {
	return &Progress{w: w, asJSON: asJSON, enc: json.NewEncoder(w)}
}

// barWidth is how many cells a step's bar has.
const barWidth = 20

// Print draws one event.
func (p *Progress) Print(e cyberrange.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.asJSON {
		p.enc.Encode(e)
		return
	}
	fmt.Fprintln(p.w, Line(e))
}

// JSON writes v as one JSON line among the events.
func (p *Progress) JSON(v any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.enc.Encode(v)
}

// Line renders one event:
//
//	targets  [##########..........]  9/18 create    cyrange-x-mail-d01  412ms
func Line(e cyberrange.Progress) string {
	if e.Step == cyberrange.StepWatch {
		line := fmt.Sprintf("%-8s %-9s %s", e.Step, e.Action, e.Name)
		if e.Err != nil {
			line += "  FAILED: " + e.Err.Error()
		}
		return line
	}
	filled := 0
	if e.Total > 0 {
		filled = e.Done * barWidth / e.Total
	}
	width := len(fmt.Sprint(e.Total))
	line := fmt.Sprintf("%-8s [%s%s] %*d/%d %-8s %s", e.Step, strings.Repeat("#", filled), strings.Repeat(".", barWidth-filled),
		width, e.Done, e.Total, e.Action, e.Name)
	if e.Err != nil {
		return line + "  FAILED: " + e.Err.Error()
	}
	if e.Action != cyberrange.ActionAdopt {
		line += "  " + e.Elapsed.Round(time.Millisecond).String()
	}
	return line
}

// Report shows the range's status and how teams get in; tokens is the
// file that holds the teams' tokens.
func Report(w io.Writer, sc *scenarios.Scenario, plan *cyberrange.Plan, rep cyberrange.Report, tokens string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	// A range over several machines says where each container runs.
	nodes := slices.ContainsFunc(rep.Containers, func(c cyberrange.ContainerReport) bool { return c.Node != "" })
	head := "CONTAINER\tKIND\tTEAM\tSERVICE\tSTATE\tRESTARTS\tPUBLISHED"
	if nodes {
		head += "\tNODE"
	}
	fmt.Fprintln(tw, head)
	for _, c := range rep.Containers {
		state := string(c.State)
		if c.Changed {
			state += " (changed)"
		}
		var pub []string
		for name, addr := range c.Ports {
			pub = append(pub, name+"="+addr)
		}
		sort.Strings(pub)
		line := fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%d\t%s", c.Name, c.Kind, dash(c.Team), dash(c.Service), state, c.Restarts, dash(strings.Join(pub, " ")))
		if nodes {
			line += "\t" + dash(c.Node)
		}
		fmt.Fprintln(tw, line)
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NETWORK\tSUBNET\tSTATE")
	for _, n := range rep.Networks {
		state := "present"
		switch {
		case !n.Present:
			state = "missing"
		case n.Changed:
			state = "changed"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", n.Name, n.Subnet, state)
	}
	tw.Flush()
	if len(rep.Leftovers) > 0 {
		fmt.Fprintf(w, "\nnot in the plan (range up removes them): %s\n", strings.Join(rep.Leftovers, ", "))
	}
	fmt.Fprintln(w)
	TeamAccess(w, sc, plan, rep, tokens)
	fmt.Fprintf(w, "%d of %d containers running; healthy: %v\n", rep.Running, rep.Total, rep.Healthy)
}

// TeamAccess lists each team's gateway (and attack box), then each
// defending team's defence gateway (and defence box).
func TeamAccess(w io.Writer, sc *scenarios.Scenario, plan *cyberrange.Plan, rep cyberrange.Report, tokens string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TEAM\tFOR\tSOCKS5 GATEWAY\tUSER\tNETWORK\tBOX (SSH, through the gateway)")
	boxes := false
	for _, gi := range teamGateways(sc, plan) {
		fmt.Fprintln(tw, gatewayLine(gi, rep))
		boxes = boxes || gi.Box != ""
	}
	tw.Flush()
	what := "Gateway passwords are"
	if boxes {
		what = "Gateway and box passwords are"
	}
	fmt.Fprintf(w, "\n%s the team tokens in %s.\n", what, tokens)
}

// teamGateways are the attack gateways in team order, then the defence
// gateways.
func teamGateways(sc *scenarios.Scenario, plan *cyberrange.Plan) []cyberrange.GatewayInfo {
	var out []cyberrange.GatewayInfo
	for _, get := range []func(int) (cyberrange.GatewayInfo, bool){plan.Gateway, plan.DefenceGateway} {
		for i := range sc.Teams {
			if gi, ok := get(i); ok {
				out = append(out, gi)
			}
		}
	}
	return out
}

func gatewayLine(gi cyberrange.GatewayInfo, rep cyberrange.Report) string {
	what := "attack"
	if gi.Defence {
		what = "defence"
	}
	box := "-"
	if gi.Box != "" {
		box = gi.Short + "@" + gi.Box
		if gi.BoxAddress != "" {
			box += " (" + gi.BoxAddress + ")"
		}
	}
	return fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s", gi.Team, what, gateway.HostAddr(gi, rep), gi.Short, gi.Source, box)
}

// Gateways lists each team's gateways as the host reaches them, indented
// under an exercise's addresses.
func Gateways(w io.Writer, sc *scenarios.Scenario, plan *cyberrange.Plan, rep cyberrange.Report) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  TEAM\tFOR\tSOCKS5 GATEWAY\tUSER\tNETWORK\tBOX (SSH, through the gateway)")
	for _, gi := range teamGateways(sc, plan) {
		fmt.Fprintln(tw, "  "+gatewayLine(gi, rep))
	}
	tw.Flush()
	fmt.Fprintln(w, "  (gateway and box password: the team's token)")
	fmt.Fprintln(w)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
