package mailtarget

import (
	"strings"
	"testing"

	"github.com/cyrange/cyrange/images/mailserver/contract"
	"github.com/cyrange/cyrange/images/target"
	"github.com/cyrange/cyrange/scenarios"
)

// TestReadLineTechnique: what a watching defender makes of the server's
// actions.
func TestReadLineTechnique(t *testing.T) {
	cases := []struct {
		line      string
		technique string
	}{
		{`{"level":"WARN","msg":"login failed","proto":"imap","src":"127.60.1.2:4000","action":"login"}`, "T1110"},
		{`{"level":"INFO","msg":"login","proto":"imap","src":"127.60.1.2:4000","action":"login"}`, ""},
		{`{"level":"WARN","msg":"authentication failed","proto":"smtp","src":"127.60.1.2:4000","action":"auth"}`, "T1110"},
		{`{"level":"WARN","msg":"EXPN answered","proto":"smtp","src":"127.60.1.2:4000","action":"expn"}`, "T1087"},
		{`{"level":"WARN","msg":"VRFY refused","proto":"smtp","src":"127.60.1.2:4000","action":"vrfy"}`, "T1087"},
		{`{"level":"INFO","msg":"attachment downloaded","proto":"http","src":"127.60.1.2:4000","action":"download","file":"../../etc/passwd"}`, "T1190"},
		{`{"level":"INFO","msg":"attachment downloaded","proto":"http","src":"127.60.1.2:4000","action":"download","file":"bao-cao.pdf"}`, ""},
		{`{"level":"INFO","msg":"settings","proto":"admin","src":"127.61.1.200:4000","action":"settings"}`, ""},
	}
	for _, c := range cases {
		l, ok := New().ReadLine([]byte(c.line))
		if !ok {
			t.Fatalf("not an action: %s", c.line)
		}
		if l.Technique != c.technique {
			t.Errorf("%s: %q, want %q", c.line, l.Technique, c.technique)
		}
	}
}

// TestReadLineRemedy: only the admin port's changes are remedies.
func TestReadLineRemedy(t *testing.T) {
	cases := []struct{ line, remedy string }{
		{`{"msg":"settings saved","proto":"admin","action":"settings","changes":"lockout: false -> true"}`, "settings: lockout: false -> true"},
		{`{"msg":"settings saved","proto":"admin","action":"settings","changes":" "}`, ""},
		{`{"msg":"settings saved","proto":"http","action":"settings","changes":"lockout: false -> true"}`, ""},
		{`{"msg":"password reset","proto":"admin","action":"reset_password","target":"a@x.gov.vn"}`, "reset_password: a@x.gov.vn"},
		{`{"msg":"password changed","proto":"admin","action":"admin_password","target":"admin"}`, "admin_password: admin"},
		{`{"msg":"login","proto":"admin","action":"login"}`, ""},
	}
	for _, c := range cases {
		l, ok := New().ReadLine([]byte(c.line))
		if !ok || l.Remedy != c.remedy {
			t.Errorf("%s: %q %v, want %q", c.line, l.Remedy, ok, c.remedy)
		}
	}
}

func TestWeaknessOn(t *testing.T) {
	cases := []struct {
		desc    string
		options scenarios.Options
		on      map[string]bool
	}{
		{"no weaknesses key: the target takes them all", scenarios.Options{"domain": "x.gov.vn"},
			map[string]bool{"webmail_idor": true, "smtp_vrfy": true}},
		{"those set true", scenarios.Options{"weaknesses": scenarios.Options{"webmail_idor": true, "smtp_vrfy": false}},
			map[string]bool{"webmail_idor": true, "smtp_vrfy": false, "path_traversal": false}},
		{"a list", scenarios.Options{"weaknesses": []any{"smtp_vrfy"}},
			map[string]bool{"smtp_vrfy": true, "webmail_idor": false}},
		{"none", scenarios.Options{"weaknesses": "none"}, map[string]bool{"smtp_vrfy": false}},
		{"all", scenarios.Options{"weaknesses": "all"}, map[string]bool{"smtp_vrfy": true}},
	}
	for _, c := range cases {
		for w, want := range c.on {
			if got := New().WeaknessOn(c.options, w); got != want {
				t.Errorf("%s: %s on = %v, want %v", c.desc, w, got, want)
			}
		}
	}
}

// TestWeaknesses: every weakness of the contract, each with its exploit,
// techniques, stores and remedy, and nothing else.
func TestWeaknesses(t *testing.T) {
	ws := New().Weaknesses()
	if len(ws) != len(contract.Weaknesses()) {
		t.Fatalf("%d weaknesses, the contract has %d", len(ws), len(contract.Weaknesses()))
	}
	for i, w := range ws {
		if w.Name != contract.Weaknesses()[i] || w.Exploit == nil || w.ExploitName == "" || len(w.Stores) == 0 ||
			w.Description == "" || w.Remedy == "" || len(w.Techniques) == 0 {
			t.Errorf("weakness %d: %+v", i, w)
		}
		for _, id := range w.Techniques {
			if !strings.HasPrefix(id, "T1") {
				t.Errorf("%s: technique %q", w.Name, id)
			}
		}
	}
	if name, ok := target.AdminPort(New()); !ok || name != "admin" {
		t.Errorf("admin port %q %v", name, ok)
	}
	if p, ok := New().OperatorPassword("mailserver: admin console operator password: s3cret"); !ok || p != "s3cret" {
		t.Errorf("operator password %q %v", p, ok)
	}
}

// FuzzReadLine feeds the server's log lines, which an attacker shapes, to
// what the defence reads of them: an action has a message and an action,
// a remedy comes only from the admin port, a technique is an ATT&CK id.
func FuzzReadLine(f *testing.F) {
	f.Add([]byte(`{"level":"WARN","msg":"EXPN answered","proto":"smtp","src":"127.60.1.2:4000","action":"expn"}`))
	f.Add([]byte(`{"msg":"x","action":"download","file":"..\u0000"}`))
	f.Add([]byte("mailserver: admin console operator password: x"))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, ok := New().ReadLine(b)
		if !ok {
			return
		}
		if l.Msg == "" || l.Action == "" {
			t.Fatalf("accepted %q as %+v", b, l)
		}
		if l.Remedy != "" && l.Proto != "admin" {
			t.Fatalf("a remedy from %q", l.Proto)
		}
		if l.Technique != "" && !strings.HasPrefix(l.Technique, "T") {
			t.Fatalf("%q: technique %q", b, l.Technique)
		}
		if s := l.Source(); strings.ContainsAny(s, "\n\r") {
			t.Fatalf("source %q", s)
		}
	})
}
