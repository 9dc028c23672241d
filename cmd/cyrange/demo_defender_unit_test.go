package main

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/cyrange/cyrange/scenarios"
	"github.com/cyrange/cyrange/scoreboard/ingest"
)

func TestSuspicious(t *testing.T) {
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
		l, ok := ingest.ParseTargetLine([]byte(c.line))
		if !ok {
			t.Fatalf("not a target line: %s", c.line)
		}
		got, ok := suspicious(l, []byte(c.line))
		if got != c.technique || ok != (c.technique != "") {
			t.Errorf("%s: %q %v, want %q", c.line, got, ok, c.technique)
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
		svc := scenarios.Service{Options: c.options}
		for w, want := range c.on {
			if got := weaknessOn(svc, w); got != want {
				t.Errorf("%s: %s on = %v, want %v", c.desc, w, got, want)
			}
		}
	}
}

// FuzzSuspicious feeds target log lines, which an attacker shapes, to what
// the bot defence reads of them, and the exec output cleaner.
func FuzzSuspicious(f *testing.F) {
	f.Add([]byte(`{"level":"WARN","msg":"EXPN answered","proto":"smtp","src":"127.60.1.2:4000","action":"expn"}`))
	f.Add([]byte(`{"msg":"x","action":"download","file":"..\u0000"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if l, ok := ingest.ParseTargetLine(b); ok {
			if tech, ok := suspicious(l, b); ok != (tech != "") || (ok && !strings.HasPrefix(tech, "T")) {
				t.Fatalf("%q: %q %v", b, tech, ok)
			}
		}
		if s := printable(b); !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
			t.Fatalf("printable(%q) = %q", b, s)
		}
	})
}
