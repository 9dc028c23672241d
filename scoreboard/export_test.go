package scoreboard

import (
	"errors"
	"io"
	"strings"
	"testing"
)

// TestCTFtimeRanksByScore: the feed ranks the attack-capable teams by
// total whatever their role, keeps the board's order between equal totals,
// leaves the defence out and rounds to two decimals.
func TestCTFtimeRanksByScore(t *testing.T) {
	board := []Standing{ // board order: both-role teams first
		{Team: "both-low", Role: RoleBoth, Total: 10.004},
		{Team: "both-tie", Role: RoleBoth, Total: 20},
		{Team: "attack-high", Role: RoleAttack, Total: 30.456},
		{Team: "attack-tie", Role: RoleAttack, Total: 20},
		{Team: "defence", Role: RoleDefence, Total: 99},
	}
	got := CTFtime(board).Standings
	want := []CTFtimeEntry{{1, "attack-high", 30.46}, {2, "both-tie", 20}, {3, "attack-tie", 20}, {4, "both-low", 10}}
	if len(got) != len(want) {
		t.Fatalf("feed %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d: %+v, want %+v", i+1, got[i], want[i])
		}
	}
	if f := CTFtime(nil); f.Standings == nil {
		t.Error("an empty feed must encode its standings as [], not null")
	}
}

// TestWriteExport: each format writes the same standings, and an unknown
// one is refused.
func TestWriteExport(t *testing.T) {
	st := []Standing{{Rank: 1, Team: "a", Role: RoleAttack, Total: 12.345}}
	cases := []struct{ format, want string }{
		{"ctftime", `{"standings":[{"pos":1,"team":"a","score":12.35}]}` + "\n"},
		{"json", `"exercise": "demo"`},
		{"csv", strings.Join(ExportColumns, ",") + "\n1,a,attack,12.35,"},
	}
	for _, c := range cases {
		var b strings.Builder
		if err := WriteExport(&b, c.format, "demo", st); err != nil {
			t.Fatalf("%s: %v", c.format, err)
		}
		if !strings.Contains(b.String(), c.want) {
			t.Errorf("%s: %q, want it to contain %q", c.format, b.String(), c.want)
		}
	}
	if err := WriteExport(io.Discard, "xml", "demo", st); !errors.Is(err, ErrInvalid) {
		t.Errorf("xml: %v", err)
	}
}
