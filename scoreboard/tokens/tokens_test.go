package tokens

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/cyrange/cyrange/scoreboard"
)

var teams = []scoreboard.Team{
	{ID: 0, Name: "Đội tấn công 01", Role: scoreboard.RoleAttack},
	{ID: 1, Name: "Đội phòng thủ", Role: scoreboard.RoleDefence},
}

func TestLoadOrCreate(t *testing.T) {
	dir := t.TempDir()
	s, err := LoadOrCreate(dir, teams)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("tokens.json has mode %v, want 0600", fi.Mode().Perm())
	}
	again, err := LoadOrCreate(dir, teams)
	if err != nil {
		t.Fatal(err)
	}
	if again.TeamToken(0) != s.TeamToken(0) || again.OrganizerToken() != s.OrganizerToken() {
		t.Fatal("a restart must reuse the tokens")
	}
	if len(s.TeamToken(0)) != 32 {
		t.Fatalf("token %q is not 128 bits in hex", s.TeamToken(0))
	}
	f := s.File()
	if f.Teams[1].Name != "Đội phòng thủ" || f.Teams[1].Role != scoreboard.RoleDefence {
		t.Fatalf("file: %+v", f)
	}
}

func TestLookup(t *testing.T) {
	s, err := New(teams)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		desc string
		tok  string
		want Principal
		err  error
	}{
		{"team", s.TeamToken(0), Principal{Kind: TeamToken, Team: 0, Role: scoreboard.RoleAttack}, nil},
		{"defence", s.TeamToken(1), Principal{Kind: TeamToken, Team: 1, Role: scoreboard.RoleDefence}, nil},
		{"organizer", s.OrganizerToken(), Principal{Kind: Organizer, Team: -1}, nil},
		{"wrong", "00000000000000000000000000000000", Principal{}, scoreboard.ErrUnauthorized},
		{"empty", "", Principal{}, scoreboard.ErrUnauthorized},
		{"prefix", s.TeamToken(0)[:31], Principal{}, scoreboard.ErrUnauthorized},
	}
	for _, c := range cases {
		t.Run(c.desc, func(t *testing.T) {
			p, err := s.Lookup(c.tok)
			if !errors.Is(err, c.err) || p != c.want {
				t.Fatalf("Lookup = %+v, %v; want %+v, %v", p, err, c.want, c.err)
			}
		})
	}
}

func TestLoadRefusesAnotherScenario(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadOrCreate(dir, teams); err != nil {
		t.Fatal(err)
	}
	other := append([]scoreboard.Team(nil), teams...)
	other[0].Name = "Đội khác"
	if _, err := LoadOrCreate(dir, other); !errors.Is(err, scoreboard.ErrConflict) {
		t.Fatalf("renamed team: %v, want ErrConflict", err)
	}
	if _, err := LoadOrCreate(dir, teams[:1]); !errors.Is(err, scoreboard.ErrConflict) {
		t.Fatalf("fewer teams: %v, want ErrConflict", err)
	}
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte("{broken"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreate(dir, teams); !errors.Is(err, scoreboard.ErrInvalid) {
		t.Fatalf("broken file: %v, want ErrInvalid", err)
	}
	dup := `{"organizer":"aaaaaaaaaaaaaaaaaaaa","teams":[{"name":"Đội tấn công 01","role":"attack","token":"aaaaaaaaaaaaaaaaaaaa"},{"name":"Đội phòng thủ","role":"defence","token":"bbbbbbbbbbbbbbbbbbbb"}]}`
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte(dup), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreate(dir, teams); !errors.Is(err, scoreboard.ErrInvalid) {
		t.Fatalf("a token used twice: %v, want ErrInvalid", err)
	}
}
