package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/cyrange/cyrange/images/target/linetarget"
	"github.com/cyrange/cyrange/scenarios"
)

// lineTargetBinary builds cyrange with the tests' line target wired in,
// as a second target would be.
func lineTargetBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "cyrange-linetarget")
	out, err := exec.Command("go", "build", "-tags", "cyrange_linetarget", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("building cyrange with the line target: %v\n%s", err, out)
	}
	return bin
}

// lineScenario is the demo's teams playing the line target alone, on an
// address plan of the test's own.
func lineScenario(t *testing.T, dir string) string {
	return ownScenario(t, dir, "demo", "linesvc-test", func(sc *scenarios.Scenario) {
		sc.AttackBox = false
		sc.Services = []scenarios.Service{{Name: "notes", Title: "Sổ ghi chú", Image: linetarget.Name,
			Checker: "builtin:" + linetarget.Name, Weight: 1, FlagStores: []string{linetarget.Store},
			Ports: []scenarios.Port{{Name: "line", Number: 7070}}, Options: scenarios.Options{"slots": 100}}}
	})
}

// TestSecondTargetThroughTheInterface: a target other than the mail
// server, known to cyrange only through the target interface, is refused
// with file, line and field for a bad option, and otherwise goes through
// a whole rehearsal on the local driver: range up, the checker's putflag
// and getflag, its exploit through an attack team's gateway, its remedy
// (after which the exploit gets nothing and the checker stays OK), and the
// readiness table.
func TestSecondTargetThroughTheInterface(t *testing.T) {
	if testing.Short() {
		t.Skip("a rehearsal brings a range up")
	}
	bin := lineTargetBinary(t)
	dir := t.TempDir()
	scen := lineScenario(t, dir)

	// A bad option stops the scenario at load, naming where it is.
	src, err := os.ReadFile(scen)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	badSrc := strings.Replace(string(src), "slots: 100", "slots: 0", 1)
	if badSrc == string(src) {
		t.Fatalf("no slots option in:\n%s", src)
	}
	if err := os.WriteFile(bad, []byte(badSrc), 0o644); err != nil {
		t.Fatal(err)
	}
	line := 1 + strings.Count(badSrc[:strings.Index(badSrc, "slots: 0")], "\n")
	cmd := exec.Command(bin, "rehearse", bad, "--driver", "local")
	out, err := cmd.CombinedOutput()
	want := regexp.MustCompile(`bad\.yaml:` + itoa(line) + `: services\[0\]\.options\.slots: must be a whole number`)
	if err == nil || !want.Match(out) {
		t.Fatalf("bad option: %v\n%s\nwant %s", err, out, want)
	}

	rep := rehearseJSON(t, bin, dir, scen, "local")
	seen := map[string]int{}
	for _, c := range rep.Checks {
		seen[c.Check]++
	}
	for _, c := range []string{"range up", "range healthy", "putflag notes", "exploit dump-notes", "remedy debug_dump", "range down"} {
		if seen[c] != 1 {
			t.Errorf("check %q made %d times: %v", c, seen[c], seen)
		}
	}
	// Got back once planted and once after the remedy; every attack
	// team's gateway tried both ways.
	if seen["getflag notes"] != 2 || seen["gateway token"] != 3 || seen["gateway wrong token"] != 3 || !rep.Ready {
		t.Errorf("checks made: %v (ready %v)", seen, rep.Ready)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
