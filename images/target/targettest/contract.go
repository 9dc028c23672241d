package targettest

import (
	"slices"
	"strings"
	"testing"

	"github.com/cyrange/cyrange/images/target"
	"github.com/cyrange/cyrange/scenarios"
)

// Weaknesses checks tg's weaknesses against names, its contract's list in
// order: each has a description, ATT&CK techniques, flag stores among
// tg's, a reference exploit and a remedy, and there is no other. Its
// admin console port is named "admin".
func Weaknesses(t *testing.T, tg target.Target, names []string) {
	t.Helper()
	ws := tg.Weaknesses()
	if len(ws) != len(names) {
		t.Fatalf("%d weaknesses, the contract has %d", len(ws), len(names))
	}
	for i, w := range ws {
		if w.Name != names[i] || w.Exploit == nil || w.ExploitName == "" || len(w.Stores) == 0 ||
			w.Description == "" || w.Remedy == "" || len(w.Techniques) == 0 {
			t.Errorf("weakness %d: %+v", i, w)
		}
		for _, id := range w.Techniques {
			if !strings.HasPrefix(id, "T1") {
				t.Errorf("%s: technique %q", w.Name, id)
			}
		}
		for _, s := range w.Stores {
			if !slices.Contains(tg.FlagStores(), s) {
				t.Errorf("%s: store %q", w.Name, s)
			}
		}
	}
	if name, ok := target.AdminPort(tg); !ok || name != "admin" {
		t.Errorf("admin port %q %v", name, ok)
	}
}

// Techniques checks that tg reads each line of its log in want as an
// action, with the ATT&CK technique a watching defender makes of it ("" for
// a line that looks harmless).
func Techniques(t *testing.T, tg target.Target, want map[string]string) {
	t.Helper()
	for line, technique := range want {
		l, ok := tg.ReadLine([]byte(line))
		if !ok {
			t.Errorf("not an action: %s", line)
			continue
		}
		if l.Technique != technique {
			t.Errorf("%s: %q, want %q", line, l.Technique, technique)
		}
	}
}

// Remedies checks that tg reads each line of its log in want as an
// action, with the remedy it shows the defence applied ("" for none).
func Remedies(t *testing.T, tg target.Target, want map[string]string) {
	t.Helper()
	for line, remedy := range want {
		l, ok := tg.ReadLine([]byte(line))
		if !ok || l.Remedy != remedy {
			t.Errorf("%s: %q %v, want %q", line, l.Remedy, ok, remedy)
		}
	}
}

// Switch is a service's scenario options and whether each weakness named
// in On is planted with them.
type Switch struct {
	Desc    string
	Options scenarios.Options
	On      map[string]bool
}

// WeaknessOn checks what tg plants with each case's options.
func WeaknessOn(t *testing.T, tg target.Target, cases []Switch) {
	t.Helper()
	for _, c := range cases {
		for w, want := range c.On {
			if got := tg.WeaknessOn(c.Options, w); got != want {
				t.Errorf("%s: %s on = %v, want %v", c.Desc, w, got, want)
			}
		}
	}
}

// ReadLine checks what the defence reads of b, a line of tg's log that an
// attacker may have shaped (a fuzz test's input): an action has a message
// and an action, a remedy comes only from the admin port, a technique is
// an ATT&CK id, and the source cannot forge another line.
func ReadLine(t *testing.T, tg target.Target, b []byte) {
	t.Helper()
	l, ok := tg.ReadLine(b)
	if !ok {
		return
	}
	if l.Msg == "" || l.Action == "" {
		t.Fatalf("accepted %q as %+v", b, l)
	}
	if l.Remedy != "" && l.Proto != "admin" {
		t.Fatalf("a remedy from %q", l.Proto)
	}
	if l.Technique != "" && !strings.HasPrefix(l.Technique, "T1") {
		t.Fatalf("%q: technique %q", b, l.Technique)
	}
	if s := l.Source(); strings.ContainsAny(s, "\n\r") {
		t.Fatalf("source %q", s)
	}
}
