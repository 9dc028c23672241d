package tokens

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cyrange/cyrange/scoreboard"
)

var teams = []scoreboard.Team{
	{ID: 0, Name: "Đội tấn công 01", Role: scoreboard.RoleAttack},
	{ID: 1, Name: "Đội phòng thủ", Role: scoreboard.RoleDefence},
}

func TestLoadCreatesOnce(t *testing.T) {
	dir := t.TempDir()
	s, err := Load(dir, teams, true)
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
	again, err := Load(dir, teams, true)
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
	if _, err := Load(dir, teams, true); err != nil {
		t.Fatal(err)
	}
	other := append([]scoreboard.Team(nil), teams...)
	other[0].Name = "Đội khác"
	if _, err := Load(dir, other, true); !errors.Is(err, scoreboard.ErrConflict) {
		t.Fatalf("renamed team: %v, want ErrConflict", err)
	}
	if _, err := Load(dir, teams[:1], true); !errors.Is(err, scoreboard.ErrConflict) {
		t.Fatalf("fewer teams: %v, want ErrConflict", err)
	}
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte("{broken"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir, teams, true); !errors.Is(err, scoreboard.ErrInvalid) {
		t.Fatalf("broken file: %v, want ErrInvalid", err)
	}
	dup := `{"organizer":"aaaaaaaaaaaaaaaaaaaa","teams":[{"name":"Đội tấn công 01","role":"attack","token":"aaaaaaaaaaaaaaaaaaaa"},{"name":"Đội phòng thủ","role":"defence","token":"bbbbbbbbbbbbbbbbbbbb"}]}`
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte(dup), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir, teams, true); !errors.Is(err, scoreboard.ErrInvalid) {
		t.Fatalf("a token used twice: %v, want ErrInvalid", err)
	}
}

// TestLoadRefusesAMissingOrOpenFile: an existing exercise's tokens are
// never silently made anew, and a file other users can read is refused.
func TestLoadRefusesAMissingOrOpenFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(dir, teams, false); !errors.Is(err, scoreboard.ErrNotFound) {
		t.Fatalf("missing file without create: %v, want ErrNotFound", err)
	}
	if _, err := os.Stat(filepath.Join(dir, FileName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("a refused load must not create the file")
	}
	s, err := Load(dir, teams, true)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, FileName)
	for _, mode := range []os.FileMode{0o644, 0o640, 0o602} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, err := Load(dir, teams, false)
		if !errors.Is(err, scoreboard.ErrInvalid) || !strings.Contains(err.Error(), "chmod 600") {
			t.Fatalf("mode %04o: %v, want a refusal that says chmod 600", mode, err)
		}
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	again, err := Load(dir, teams, false)
	if err != nil || again.TeamToken(0) != s.TeamToken(0) {
		t.Fatalf("reload: %v", err)
	}
}

// TestLoadCheckerSecret: made once, private, never made anew for an
// existing exercise, refused when others can read it.
func TestLoadCheckerSecret(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadCheckerSecret(dir, false); !errors.Is(err, scoreboard.ErrNotFound) {
		t.Fatalf("missing, without create: %v", err)
	}
	s, err := LoadCheckerSecret(dir, true)
	if err != nil || len(s) != 32 {
		t.Fatalf("made %q, %v", s, err)
	}
	path := filepath.Join(dir, CheckerSecretFile)
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode: %v %v", fi.Mode(), err)
	}
	if again, err := LoadCheckerSecret(dir, true); err != nil || again != s {
		t.Fatalf("a second load made %q (%v), want the first %q", again, err, s)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadCheckerSecret(dir, false); !errors.Is(err, scoreboard.ErrInvalid) {
		t.Fatalf("readable by others: %v", err)
	}
}

// TestReadFile: a client reads the organizer's token as saved, and a
// missing or garbled file is an error.
func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadFile(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	s, err := Load(dir, teams, true)
	if err != nil {
		t.Fatal(err)
	}
	f, err := ReadFile(dir)
	if err != nil || f.Organizer != s.OrganizerToken() || len(f.Teams) != len(teams) {
		t.Fatalf("read %+v %v", f, err)
	}
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(dir); err == nil || !strings.Contains(err.Error(), FileName) {
		t.Fatalf("garbled file: %v", err)
	}
}
