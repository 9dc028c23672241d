package scenarios

import (
	"slices"
	"testing"

	"github.com/cyrange/cyrange/scoreboard"
)

// TestGameConfigPorts: every replica carries the ports teams reach it on,
// the range's when it placed them, the scenario's otherwise (the targets
// run elsewhere, on the scenario's ports).
func TestGameConfigPorts(t *testing.T) {
	t.Parallel()
	s, err := Builtin("demo")
	if err != nil {
		t.Fatal(err)
	}
	byService := [][]scoreboard.Port{{{Name: "smtp", Number: 25}, {Name: "imap", Number: 143}, {Name: "http", Number: 80}},
		{{Name: "http", Number: 80}}}
	cfg := s.GameConfig(Placement{})
	if len(cfg.Replicas) == 0 {
		t.Fatal("no replicas")
	}
	for _, r := range cfg.Replicas {
		if want := byService[r.Service]; !slices.Equal(r.Ports, want) {
			t.Errorf("replica %+v: ports %v, want %v", r, r.Ports, want)
		}
	}
	placed := []Port{{"smtp", 10025}, {"imap", 10143}}
	cfg = s.GameConfig(Placement{ReplicaPorts: func(owner, svc int) []Port { return placed }})
	want := []scoreboard.Port{{Name: "smtp", Number: 10025}, {Name: "imap", Number: 10143}}
	for _, r := range cfg.Replicas {
		if !slices.Equal(r.Ports, want) {
			t.Errorf("placed replica %+v: ports %v, want %v", r, r.Ports, want)
		}
	}
}
