// Package linetarget is a tiny target for tests: a line service that keeps
// notes under a key and a secret, with one planted weakness (a debug DUMP
// command that prints every note) and one flag store. It goes through the
// whole target interface, so that the tests of the range, the rehearsal
// and the game prove that a target other than the mail server plugs in
// with nothing but its own package; a build of cyrange carries it only
// when compiled for those tests.
//
// Protocol, one command per line on the "line" port:
//
//	PUT KEY SECRET VALUE   -> OK | ERR ...
//	GET KEY SECRET         -> VALUE value | ERR denied
//	DUMP                   -> KEY value ... END   (weakness debug_dump)
//	QUIT
//
// The admin console (the "admin" port, the replica's network and the
// checkers only) takes POST /remedy?weakness=debug_dump as the operator.
package linetarget

import (
	"context"
	"io"
	"regexp"
	"strings"

	"github.com/cyrange/cyrange/images/target"
	"github.com/cyrange/cyrange/scenarios"
	"github.com/cyrange/cyrange/scoreboard/checks"
)

// Name is the target's image and role name.
const Name = "linesvc"

// DebugDump is the one planted weakness; Store the one flag store.
const (
	DebugDump = "debug_dump"
	Store     = "notes"
)

// Option bounds.
const (
	MinSlots = 1
	MaxSlots = 100_000
)

// Target is the line service as a target.
type Target struct{}

var _ target.Target = Target{}

// New returns the line target.
func New() Target { return Target{} }

// Name is the image and role name.
func (Target) Name() string { return Name }

// Ports are the defaults.
func (Target) Ports() []target.Port {
	return []target.Port{{Name: "line", Number: 7070}, {Name: "admin", Number: 8025, Admin: true}}
}

// FlagStores has the one store.
func (Target) FlagStores() []string { return []string{Store} }

// CheckOptions checks slots and weaknesses, every problem at once.
func (Target) CheckOptions(o scenarios.Options) []scenarios.OptionProblem {
	var out []scenarios.OptionProblem
	for k := range o {
		if k != "slots" && k != "weaknesses" {
			out = append(out, scenarios.OptionProblem{Key: k, Msg: "is not an option of " + Name + " (options: slots, weaknesses)"})
		}
	}
	if v, ok := o["slots"]; ok {
		n, isInt := v.(int)
		if !isInt || n < MinSlots || n > MaxSlots {
			out = append(out, scenarios.OptionProblem{Key: "slots", Msg: "must be a whole number from 1 to 100000"})
		}
	}
	return out
}

// Weaknesses lists debug_dump.
func (Target) Weaknesses() []target.Weakness {
	return []target.Weakness{{Name: DebugDump, Description: "a debug command left in prints every note",
		Techniques: []string{"T1190", "T1005"}, Stores: []string{Store}, ExploitName: "dump-notes", Exploit: dumpNotes,
		Remedy: "turn the debug command off in the admin console"}}
}

// WeaknessOn: all when the scenario names none, else those named true.
func (Target) WeaknessOn(o scenarios.Options, w string) bool {
	return target.WeaknessOn(o, w, func(s string) (map[string]bool, error) {
		return map[string]bool{w: s == "all" || s == w}, nil
	})
}

// RunTarget runs the service.
func (Target) RunTarget(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runServer(ctx, args, stdout, stderr)
}

// RunChecker serves the checker.
func (Target) RunChecker(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runChecker(ctx, args, stdout, stderr)
}

// NewChecker builds an in-process checker.
func (Target) NewChecker(c target.CheckerConfig) (checks.Checker, error) {
	return &checker{secret: c.Secret, port: portOr(c.Ports["line"], 7070), replicas: c.Replicas}, nil
}

var operatorLine = regexp.MustCompile(`admin console operator password: (\S+)`)

// OperatorUser is the console's one account (basic authentication).
func (Target) OperatorUser() string { return "operator" }

// OperatorPassword finds the password the service printed at start.
func (Target) OperatorPassword(line string) (string, bool) {
	if m := operatorLine.FindStringSubmatch(line); m != nil {
		return m[1], true
	}
	return "", false
}

// ReadLine reads an action: a settings change on the admin port is a
// remedy, a DUMP looks like collection from a public-facing service.
func (Target) ReadLine(b []byte) (target.Line, bool) {
	l, ok := target.ReadJSONLine(b)
	if !ok {
		return l, false
	}
	if l.Proto == "admin" && l.Action == "settings" && strings.TrimSpace(l.Changes) != "" {
		l.Remedy = "settings: " + l.Changes
	}
	if l.Action == "dump" {
		l.Technique = "T1005"
	}
	return l, true
}

func portOr(n, def int) int {
	if n > 0 {
		return n
	}
	return def
}
