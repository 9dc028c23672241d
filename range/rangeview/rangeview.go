// Package rangeview draws a range for people at a terminal: the progress
// of a bring-up (or the same as JSON lines), the status of every network
// and container, and how each team gets in. The command line and the
// rehearsal print with it; it decides nothing.
package rangeview

import (
	"encoding/json"
	"fmt"
	"io"
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
	fmt.Fprintln(tw, "CONTAINER\tKIND\tTEAM\tSERVICE\tSTATE\tRESTARTS\tPUBLISHED")
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
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", c.Name, c.Kind, dash(c.Team), dash(c.Service), state, c.Restarts, dash(strings.Join(pub, " ")))
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

// TeamAccess lists each team's gateway (and attack box).
func TeamAccess(w io.Writer, sc *scenarios.Scenario, plan *cyberrange.Plan, rep cyberrange.Report, tokens string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	// A team's attack box, reached over SSH through its gateway.
	boxes := map[int]string{}
	for _, c := range plan.Containers {
		if c.Kind == cyberrange.KindAttackBox && len(c.Networks) > 0 {
			boxes[c.Team] = c.Networks[0].Address.String()
		}
	}
	header := "TEAM\tSOCKS5 GATEWAY\tUSER\tSOURCE NETWORK"
	if len(boxes) > 0 {
		header += "\tATTACK BOX (SSH, through the gateway)"
	}
	fmt.Fprintln(tw, header)
	for i, t := range sc.Teams {
		gi, ok := plan.Gateway(i)
		if !ok {
			continue
		}
		gi.Address = gateway.HostAddr(gi, rep)
		line := fmt.Sprintf("%s\t%s\t%s\t%s", t.Name, gi.Address, gi.Short, gi.Source)
		if box, ok := boxes[i]; ok {
			line += "\t" + gi.Short + "@" + box
		}
		fmt.Fprintln(tw, line)
	}
	tw.Flush()
	what := "Gateway passwords are"
	if len(boxes) > 0 {
		what = "Gateway and attack box passwords are"
	}
	fmt.Fprintf(w, "\n%s the team tokens in %s.\n", what, tokens)
}

// Gateways lists each team's gateway as the host reaches it, indented
// under an exercise's addresses.
func Gateways(w io.Writer, plan *cyberrange.Plan, rep cyberrange.Report) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  TEAM\tSOCKS5 GATEWAY\tUSER\tSOURCE NETWORK")
	for team := 0; team < 256; team++ {
		g, ok := plan.Gateway(team)
		if !ok {
			continue
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", g.Team, gateway.HostAddr(g, rep), g.Short, g.Source)
	}
	tw.Flush()
	fmt.Fprintln(w, "  (gateway password: the team's token)")
	fmt.Fprintln(w)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
