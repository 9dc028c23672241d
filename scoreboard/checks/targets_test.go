package checks_test

import (
	"strings"
	"testing"

	"github.com/cyrange/cyrange/scoreboard/checks"
)

func TestParseTargets(t *testing.T) {
	got, err := checks.ParseTargets(" 10.0.1.10=mail.d01, 10.0.1.11=mail.d02,127.0.0.1 ,mail.example.org.=mail.x,[::ffff:10.0.1.12]=mail.d03")
	want := map[string]string{"10.0.1.10": "mail.d01", "10.0.1.11": "mail.d02", "127.0.0.1": "", "mail.example.org": "mail.x", "10.0.1.12": "mail.d03"}
	if err != nil || len(got) != len(want) {
		t.Fatalf("%v %v", got, err)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
	for _, bad := range []string{"", ",", "=mail.d01", "10.0.1.10=a b", "10.0.1.10=x,10.0.1.10=y", "a/b=c", "x=y=z"} {
		if _, err := checks.ParseTargets(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// FuzzParseTargets reads the --targets list: it must not panic, and what it
// accepts has no empty host and round-trips through its own syntax.
func FuzzParseTargets(f *testing.F) {
	f.Add("10.62.0.10=mail.d01,10.62.0.11=mail.d02")
	f.Add("127.0.0.1")
	f.Add("[::1]=x, mail.example.org.=y")
	f.Fuzz(func(t *testing.T, list string) {
		got, err := checks.ParseTargets(list)
		if err != nil {
			return
		}
		var parts []string
		for host, name := range got {
			if host == "" || strings.ContainsAny(host, ",= ") || strings.ContainsAny(name, ",= ") {
				t.Fatalf("%q gave host %q name %q", list, host, name)
			}
			parts = append(parts, host+"="+name)
		}
		again, err := checks.ParseTargets(strings.Join(parts, ","))
		if err != nil || len(again) != len(got) {
			t.Fatalf("%q: %v does not read back: %v %v", list, got, again, err)
		}
	})
}
