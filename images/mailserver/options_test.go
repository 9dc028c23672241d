package mailserver

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"strings"
	"testing"

	"github.com/cyrange/cyrange/scenarios"
)

// TestOptionsReportEveryProblem: a scenario with several bad options
// hears of each of them, with its line, when it loads.
func TestOptionsReportEveryProblem(t *testing.T) {
	const file = `name: t
teams:
  - {name: A, role: attack}
  - {name: D, role: defence}
services:
  - name: mail
    image: mailserver
    flag_stores: [inbox]
    options:
      acounts: 300
      sed: 3
      accounts: 12
      weaknesses: {weak_password: true, nope: true, nada: false, smtp_vrfy: 1}
`
	sc, err := scenarios.Load("t.yaml", []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	err = sc.CheckOptions(map[string]scenarios.OptionsCheck{"mailserver": CheckOptions})
	want := []string{
		"t.yaml:10: services[0].options.acounts: unknown option of the mail server",
		"t.yaml:11: services[0].options.sed: unknown option",
		"t.yaml:12: services[0].options.accounts: must be 100 to 100000 mailboxes (got 12)",
		"t.yaml:13: services[0].options.weaknesses.nada: unknown weakness",
		"t.yaml:13: services[0].options.weaknesses.nope: unknown weakness",
		"t.yaml:13: services[0].options.weaknesses.smtp_vrfy: must be true or false",
	}
	var es scenarios.Errors
	if !errors.As(err, &es) || len(es) != len(want) {
		t.Fatalf("got %v, want %d problems", err, len(want))
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("missing %q in:\n%v", w, err)
		}
	}
	for _, name := range scenarios.Builtins() {
		b, err := scenarios.Builtin(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.CheckOptions(map[string]scenarios.OptionsCheck{"mailserver": CheckOptions}); err != nil {
			t.Errorf("built-in %s: %v", name, err)
		}
	}
}

// TestOptionKeysAreFlags: every option the check accepts is a flag the
// target reads.
func TestOptionKeysAreFlags(t *testing.T) {
	var stderr bytes.Buffer
	err := RunTarget(context.Background(), []string{"-h"}, &bytes.Buffer{}, &stderr)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	for _, k := range optionKeys {
		if f := "-" + strings.ReplaceAll(k, "_", "-") + " "; !strings.Contains(stderr.String(), f) {
			t.Errorf("option %s is no flag of the target:\n%s", k, stderr.String())
		}
	}
}
