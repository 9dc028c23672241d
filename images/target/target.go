// Package target is the contract between cyrange and the targets it runs:
// everything the rest of the tree may know about a replica's software goes
// through the Target interface, so that a new target touches its own
// directory under images/ and one line of cmd/cyrange.
//
// Where a new target goes, and what it must provide:
//
//  1. A directory images/NAME with the server (its role: RunTarget), its
//     enochecker v2 checker (RunChecker, NewChecker), one reference exploit
//     per planted weakness taking a Dialer, and a README with the weakness
//     table. The checker takes its role and task plumbing from taskrun,
//     the server the firewall its console sets from internal/firewall, and
//     the tests check the contract with targettest.
//  2. A value implementing Target (by convention in the target's own
//     package or a small adapter package beside it) that names its ports,
//     flag stores and weaknesses, checks its scenario options, applies each
//     remedy through its admin console, and reads its JSON log lines.
//  3. One entry in cmd/cyrange's list of targets. There is no registry:
//     consumers (the range, the rehearsal, the bots, the ingest) are handed
//     the Set they work with.
//
// A target must write one JSON object per action on its standard output
// (see Line), print its admin console operator's password where
// OperatorPassword finds it, and answer its ports on every address.
package target

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"sort"

	"github.com/cyrange/cyrange/scenarios"
	"github.com/cyrange/cyrange/scoreboard/checks"
)

// Dialer opens connections to a replica: a net.Dialer, a team's SOCKS5
// gateway, or a dialer bound to an address of the replica's network.
type Dialer interface {
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)
}

// Port is one port a target serves by default.
type Port struct {
	Name   string
	Number int
	// Admin marks the admin console: the defence's and the organizer's
	// way in, never offered to the attack teams.
	Admin bool
}

// Replica is one running replica as a client reaches it: an exploit
// through a team's gateway, a bot, a rehearsal.
type Replica struct {
	Host string
	// Ports maps the scenario's port names to their numbers; a missing
	// name means the target's default.
	Ports map[string]int
	// Options are the service's scenario options (the domain, say).
	Options scenarios.Options
	// AttackInfo are the game's public hints for the replica's flags.
	AttackInfo []string
}

// Port returns the number of the named port, or def when the replica
// does not name it.
func (r Replica) Port(name string, def int) int {
	if n, ok := r.Ports[name]; ok && n > 0 {
		return n
	}
	return def
}

// Exploit runs a reference exploit against a replica through d and
// returns the flags it found by their pattern; it is never told them.
type Exploit func(ctx context.Context, d Dialer, r Replica) ([]string, error)

// Weakness is one planted weakness a scenario can switch on.
type Weakness struct {
	// Name is the scenario's key, e.g. "weak_password".
	Name string
	// Description says what is wrong, as the target's README does.
	Description string
	// Techniques are the MITRE ATT&CK technique ids it stands for.
	Techniques []string
	// Stores are the flag stores its exploit reaches.
	Stores []string
	// ExploitName names the reference exploit; Exploit runs it.
	ExploitName string
	Exploit     Exploit
	// Remedy says how the defence applies the remedy in the admin
	// console; Target.Remedy applies it.
	Remedy string
}

// Console is how a client reaches a replica's admin console: its base
// URL, the dialer that gets there (nil: a plain net.Dialer) and the
// operator's password.
type Console struct {
	URL      string
	Dialer   Dialer
	Password string
}

// CheckerConfig is what an in-process checker needs: the target's ports
// as the scenario names them, the secret shared with the target, and the
// only replicas it may connect to (host to the replica's name in the
// game).
type CheckerConfig struct {
	Ports    map[string]int
	Secret   string
	Replicas map[string]string
	Logger   *slog.Logger
}

// Target is one kind of replica cyrange can run. Methods must be safe for
// concurrent use; a Target holds no state of a running replica.
type Target interface {
	// Name is the built-in image and role name ("cyrange target NAME").
	Name() string
	// Ports are its default ports; exactly one may be the admin console.
	Ports() []Port
	// FlagStores name where the checker plants flags, in variant order.
	FlagStores() []string
	// CheckOptions checks a service's scenario options as RunTarget reads
	// them, reporting every problem with its field.
	CheckOptions(o scenarios.Options) []scenarios.OptionProblem
	// Weaknesses lists every weakness the target can plant.
	Weaknesses() []Weakness
	// WeaknessOn says whether a service with options o plants weakness w.
	WeaknessOn(o scenarios.Options, w string) bool
	// RunTarget runs the target role until ctx is done.
	RunTarget(ctx context.Context, args []string, stdout, stderr io.Writer) error
	// RunChecker serves the target's checker over HTTP until ctx is done.
	RunChecker(ctx context.Context, args []string, stdout, stderr io.Writer) error
	// NewChecker builds the checker to run inside cyrange's process.
	NewChecker(c CheckerConfig) (checks.Checker, error)
	// OperatorPassword finds the admin console operator's password in a
	// line of the target's output.
	OperatorPassword(line string) (string, bool)
	// OperatorUser is the operator's login name in the admin console,
	// which the defence console shows beside the password.
	OperatorUser() string
	// Remedy applies the remedy of weakness w through the admin console.
	Remedy(ctx context.Context, c Console, w string) error
	// ReadLine reads one line of the target's output as an action; false
	// for anything else, which is never shown to anyone (it may be a
	// secret meant for the operator's terminal).
	ReadLine(b []byte) (Line, bool)
}

// Set is the targets one build of cyrange runs.
type Set []Target

// Lookup returns the target named name.
func (s Set) Lookup(name string) (Target, bool) {
	for _, t := range s {
		if t.Name() == name {
			return t, true
		}
	}
	return nil, false
}

// Names lists the targets' names, sorted.
func (s Set) Names() []string {
	out := make([]string, 0, len(s))
	for _, t := range s {
		out = append(out, t.Name())
	}
	sort.Strings(out)
	return out
}

// OptionChecks are the targets' option checks by name, as scenarios
// wants them.
func (s Set) OptionChecks() map[string]scenarios.OptionsCheck {
	out := make(map[string]scenarios.OptionsCheck, len(s))
	for _, t := range s {
		out[t.Name()] = t.CheckOptions
	}
	return out
}

// Of returns the built-in target a scenario service runs: its image names
// a target of the set and its checker is that target's built-in one.
func (s Set) Of(svc scenarios.Service) (Target, bool) {
	name, ok := svc.IsBuiltinChecker()
	if !ok || name != svc.Image {
		return nil, false
	}
	return s.Lookup(name)
}

// Find returns the weakness of t named w.
func Find(t Target, w string) (Weakness, bool) {
	i := slices.IndexFunc(t.Weaknesses(), func(x Weakness) bool { return x.Name == w })
	if i < 0 {
		return Weakness{}, false
	}
	return t.Weaknesses()[i], true
}

// WeaknessOn reads a service's "weaknesses" option as the range turns it
// into a target's --weaknesses flag: all when the scenario names none; a
// mapping's keys set true; a list's names; a string as the target parses
// it (parse, which may be nil for a target that takes no string form).
func WeaknessOn(o scenarios.Options, w string, parse func(string) (map[string]bool, error)) bool {
	switch v := o["weaknesses"].(type) {
	case nil:
		return true
	case scenarios.Options:
		return v.Bool(w, false)
	case []any:
		return slices.ContainsFunc(v, func(x any) bool { return fmt.Sprint(x) == w })
	case string:
		if parse == nil {
			return false
		}
		set, err := parse(v)
		return err == nil && set[w]
	}
	return false
}

// AdminPort returns the name of t's admin console port, if it has one.
func AdminPort(t Target) (string, bool) {
	p, ok := adminPort(t)
	return p.Name, ok
}

func adminPort(t Target) (Port, bool) {
	for _, p := range t.Ports() {
		if p.Admin {
			return p, true
		}
	}
	return Port{}, false
}

// AdminPorts maps each target's name to the number of its admin console
// port, for the range's plan: the range passes it as --admin-port and
// lets only the replica's own network and the checkers reach it.
func (s Set) AdminPorts() map[string]int {
	out := map[string]int{}
	for _, t := range s {
		if p, ok := adminPort(t); ok {
			out[t.Name()] = p.Number
		}
	}
	return out
}
