package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/cyrange/cyrange/scoreboard"
)

// TestWriteStandings: one aligned row per team; detections only for
// teams that defend.
func TestWriteStandings(t *testing.T) {
	var b bytes.Buffer
	WriteStandings(&b, []scoreboard.Standing{
		{Rank: 1, Team: "Đội 01", Role: scoreboard.RoleAttack, Total: 12.5, Attack: 12.5, Captures: 3},
		{Rank: 2, Team: "Phòng thủ", Role: scoreboard.RoleDefence, Total: 4, DetectionsTrue: 2, DetectionsFalse: 1},
	})
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "true/false/missed") {
		t.Fatalf("%q", b.String())
	}
	if !strings.Contains(lines[1], "12.50") || strings.Contains(lines[1], "/0/") || !strings.Contains(lines[2], "2/1/0") {
		t.Fatalf("rows:\n%s", b.String())
	}
}
