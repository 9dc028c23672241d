package checker_test

import (
	"strings"
	"testing"

	"github.com/cyrange/cyrange/images/mailserver/checker"
)

// FuzzParseTargets reads the --targets list: it must not panic, and what it
// accepts has no empty host and round-trips through its own syntax.
func FuzzParseTargets(f *testing.F) {
	f.Add("10.62.0.10=mail.d01,10.62.0.11=mail.d02")
	f.Add("127.0.0.1")
	f.Add("[::1]=x, mail.example.org.=y")
	f.Fuzz(func(t *testing.T, list string) {
		got, err := checker.ParseTargets(list)
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
		again, err := checker.ParseTargets(strings.Join(parts, ","))
		if err != nil || len(again) != len(got) {
			t.Fatalf("%q: %v does not read back: %v %v", list, got, again, err)
		}
	})
}
