// Package portaltarget is the e-government portal seen through cyrange's
// target interface (images/target): its ports, flag stores and
// weaknesses, its roles, its reference exploits and the remedies of its
// admin console, and the reading of its action log. It is the one place
// that ties the server, its checker, its exploits and its client
// together, so that nothing outside images/ needs to know any of them.
package portaltarget

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"strings"
	"unicode"

	"github.com/cyrange/cyrange/images/portal"
	"github.com/cyrange/cyrange/images/portal/checker"
	"github.com/cyrange/cyrange/images/portal/contract"
	"github.com/cyrange/cyrange/images/portal/exploits"
	"github.com/cyrange/cyrange/images/portal/portalclient"
	"github.com/cyrange/cyrange/images/target"
	"github.com/cyrange/cyrange/scenarios"
	"github.com/cyrange/cyrange/scoreboard/checks"
)

// Target is the portal as a target.
type Target struct{}

var _ target.Target = Target{}

// New returns the portal target.
func New() Target { return Target{} }

// Name is the image and role name.
func (Target) Name() string { return contract.ServiceName }

// adminPort is where the range puts every built-in target's console.
const adminPort = 8025

// Ports are the server's defaults.
func (Target) Ports() []target.Port {
	return []target.Port{{Name: "http", Number: 80}, {Name: "admin", Number: adminPort, Admin: true}}
}

// FlagStores are the checker's variants.
func (Target) FlagStores() []string { return contract.Stores() }

// CheckOptions checks the options as the server reads them.
func (Target) CheckOptions(o scenarios.Options) []scenarios.OptionProblem {
	return portal.CheckOptions(o)
}

// Weaknesses lists the planted weaknesses, as the contract describes
// them, with their reference exploits.
func (Target) Weaknesses() []target.Weakness {
	byWeakness := map[string]exploits.Exploit{}
	for _, e := range exploits.All() {
		byWeakness[e.Weakness] = e
	}
	var out []target.Weakness
	for _, info := range contract.All() {
		w := target.Weakness{Name: info.Name, Description: info.Description, Techniques: info.Techniques,
			Stores: info.Stores, Remedy: info.Remedy}
		if e, ok := byWeakness[info.Name]; ok {
			w.ExploitName, w.Exploit, w.Stores = e.Name, adapt(e), e.Stores
		}
		out = append(out, w)
	}
	return out
}

// adapt runs an exploit against a replica as the target interface gives
// it.
func adapt(e exploits.Exploit) target.Exploit {
	return func(ctx context.Context, d target.Dialer, r target.Replica) ([]string, error) {
		return e.Run(ctx, d, portalTarget(r))
	}
}

// WeaknessOn reads the options as the server reads its --weaknesses.
func (Target) WeaknessOn(o scenarios.Options, w string) bool {
	return target.WeaknessOn(o, w, contract.ParseWeaknesses)
}

// RunTarget runs the server.
func (Target) RunTarget(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return portal.Run(ctx, args, stdout, stderr)
}

// RunChecker serves the checker.
func (Target) RunChecker(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return checker.RunChecker(ctx, args, stdout, stderr)
}

// NewChecker builds an in-process checker.
func (Target) NewChecker(c target.CheckerConfig) (checks.Checker, error) {
	return checker.New(checker.Config{Secret: c.Secret, Replicas: c.Replicas, HTTPPort: c.Ports["http"],
		AdminPort: c.Ports["admin"], Logger: c.Logger}), nil
}

// OperatorPassword finds the operator's password in the line the server
// prints on its standard error, for the operator's eyes.
func (Target) OperatorPassword(line string) (string, bool) {
	_, rest, ok := strings.Cut(line, contract.OperatorLine)
	if !ok {
		return "", false
	}
	p, _, _ := strings.Cut(strings.TrimSpace(rest), " ")
	return p, p != ""
}

// OperatorUser is the console account the operator's password opens.
func (Target) OperatorUser() string { return portal.OperatorUser }

// Remedy does in the admin console, as the operator, what the README
// gives as the remedy of weakness w.
func (Target) Remedy(ctx context.Context, c target.Console, w string) error {
	if _, ok := contract.Lookup(w); !ok {
		return fmt.Errorf("portaltarget: no remedy known for weakness %q", w)
	}
	var d portalclient.Dialer
	if c.Dialer != nil {
		d = c.Dialer
	}
	a := portalclient.NewAdmin(c.URL, d, portal.OperatorUser, c.Password)
	defer a.Close()
	return portalclient.Remedy(ctx, a, w)
}

// ReadLine reads an action of the server's log: its remedies are the
// admin console's actions on the admin port (proto "admin"), which only
// the replica's own network and the checkers reach; the same actions
// through the console the vendor mounted on the public portal (proto
// "http") may be an intruder's and are not remedies.
func (Target) ReadLine(b []byte) (target.Line, bool) {
	l, ok := target.ReadJSONLine(b)
	if !ok {
		return l, false
	}
	// The server writes the peer's address there, never a visitor's
	// text; a line that says otherwise has no source to show.
	if strings.ContainsFunc(l.Src, unicode.IsControl) {
		l.Src = ""
	}
	l.Remedy = remedyOf(l)
	l.Technique = techniqueOf(l, b)
	return l, true
}

// remedyOf names a remedy after its action: "settings: <what changed>",
// "reset_password: <officer>", "admin_password: <account>".
func remedyOf(l target.Line) string {
	if l.Proto != "admin" {
		return ""
	}
	switch l.Action {
	case "settings":
		if strings.TrimSpace(l.Changes) == "" {
			return "" // saved without a change
		}
		return "settings: " + l.Changes
	case "reset_password", "admin_password":
		return l.Action + ": " + l.Target
	}
	return ""
}

// internalFetch reports whether a fetch line's address is one no
// visitor's link should name: the replica's own network, loopback, a
// bare host name, or credentials in the address.
func internalFetch(raw []byte) bool {
	var v struct {
		URL string `json:"url"`
	}
	if json.Unmarshal(raw, &v) != nil {
		return false
	}
	u, err := url.Parse(v.URL)
	if err != nil {
		return false
	}
	h := strings.ToLower(u.Hostname())
	if u.User != nil || h == "localhost" || h != "" && !strings.Contains(h, ".") {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && (a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsUnspecified())
}

// techniqueOf says what a watching defender makes of an action: a
// refused login (brute force), a failing search statement or a search
// with SQL in it (an injection into the public-facing portal), the
// installer's backup downloaded (credentials in files), a console login
// on the public portal (a default account), a lookup that failed (a
// receipt code guessed), a fetch of an internal address (a proxy into
// the replica's network).
func techniqueOf(l target.Line, raw []byte) string {
	switch {
	case (l.Action == "login" || l.Action == "admin_login") && l.Level == "WARN":
		return "T1110"
	case l.Action == "admin_login" && l.Proto == "http":
		return "T1078.001"
	case l.Action == "sql_error", l.Action == "search" && bytes.Contains(bytes.ToUpper(raw), []byte("UNION")):
		return "T1190"
	case l.Action == "backup_download":
		return "T1552.001"
	case l.Action == "fetch" && internalFetch(raw):
		return "T1090"
	case l.Action == "lookup" && l.Level == "WARN":
		return "T1087"
	}
	return ""
}
