package dockerapi

import (
	"strings"
	"testing"

	cyberrange "github.com/cyrange/cyrange/range"
)

func TestPortsLabel(t *testing.T) {
	ports := []cyberrange.Port{{Name: "smtp", Number: 25}, {Name: "admin", Number: 8025}}
	s := FormatPorts(ports)
	if s != "admin=8025,smtp=25" {
		t.Fatalf("format: %q", s)
	}
	got := ParsePorts(s)
	if len(got) != 2 || got[25] != "smtp" || got[8025] != "admin" {
		t.Errorf("parse: %v", got)
	}
	for _, junk := range []string{"", ",", "=", "a=", "a=0", "a=70000", "=25", "a=b", "a=25=26"} {
		if got := ParsePorts(junk); len(got) != 0 {
			t.Errorf("parse %q: %v", junk, got)
		}
	}
}

func TestHostname(t *testing.T) {
	for in, want := range map[string]string{
		"cyrange-ex-mail-d01":   "cyrange-ex-mail-d01",
		"a_b.c":                 "a-b-c",
		strings.Repeat("x", 70): strings.Repeat("x", 63),
	} {
		if got := Hostname(in); got != want {
			t.Errorf("%q: %q", in, got)
		}
	}
}

// The ports label is outside input: anyone with access to the engine
// may edit it.
func FuzzParsePorts(f *testing.F) {
	f.Add("admin=8025,smtp=25")
	f.Add("socks=1080")
	f.Add(",=,a=,=1,b=99999,c=-1")
	f.Fuzz(func(t *testing.T, s string) {
		for n, name := range ParsePorts(s) {
			if n < 1 || n > 65535 || name == "" || strings.ContainsAny(name, ",=") {
				t.Errorf("%q: port %d %q", s, n, name)
			}
		}
	})
}
