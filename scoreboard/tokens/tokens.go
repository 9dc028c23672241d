// Package tokens issues, stores and checks the exercise's secrets: one
// 128-bit token per team and one for the organizer, kept in
// <data>/tokens.json (mode 0600) so a restart reuses them.
//
// It must never import the storage, web or Docker packages.
package tokens

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/cyrange/cyrange/scoreboard"
)

// FileName is the tokens file inside the data directory.
const FileName = "tokens.json"

// Kind is who a token belongs to.
type Kind uint8

// Token kinds. Anonymous is the zero Principal: the audience.
const (
	Anonymous Kind = iota
	TeamToken
	Organizer
)

// Principal is who made a request.
type Principal struct {
	Kind Kind
	// Team is the team's id when Kind is TeamToken.
	Team int
	Role scoreboard.Role
}

// File is the JSON form of tokens.json (PROTOCOLS.md §6).
type File struct {
	Organizer string      `json:"organizer"`
	Teams     []TeamEntry `json:"teams"`
}

// TeamEntry is one team's line in tokens.json.
type TeamEntry struct {
	Name  string          `json:"name"`
	Role  scoreboard.Role `json:"role"`
	Token string          `json:"token"`
}

// Set is the loaded tokens with a lookup by token.
type Set struct {
	file File
	// byHash finds a token in one map lookup; the key is a hash of the
	// token so that the map's timing says nothing about the token, and
	// the final comparison is constant-time.
	byHash map[[32]byte]Principal
}

// New generates fresh tokens for teams.
func New(teams []scoreboard.Team) (*Set, error) {
	f := File{}
	var err error
	if f.Organizer, err = Generate(); err != nil {
		return nil, err
	}
	for _, t := range teams {
		tok, err := Generate()
		if err != nil {
			return nil, err
		}
		f.Teams = append(f.Teams, TeamEntry{Name: t.Name, Role: t.Role, Token: tok})
	}
	return fromFile(f, teams)
}

// Generate returns a new random 128-bit token in hex.
func Generate() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("tokens: generating: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// Load reads <dir>/tokens.json. With create set (a new exercise) a
// missing file is made with fresh tokens; without it a missing file is
// ErrNotFound, because the exercise's tokens have been handed out and
// new ones would lock every team out of its gateway and submissions. A
// file other users may read or write is ErrInvalid: it holds every
// team's secret. The file must list exactly the scenario's teams.
func Load(dir string, teams []scoreboard.Team, create bool) (*Set, error) {
	path := filepath.Join(dir, FileName)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		if !create {
			return nil, fmt.Errorf("tokens: %s is missing, but the exercise in %s was created with it: "+
				"restore it (the teams hold its tokens), or start a new exercise in another data directory: %w",
				path, dir, scoreboard.ErrNotFound)
		}
		s, err := New(teams)
		if err != nil {
			return nil, err
		}
		if err := s.Save(dir); err != nil {
			return nil, err
		}
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("tokens: reading %s: %w", path, err)
	}
	defer f.Close()
	if err := CheckPrivate(f); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(f, maxFile+1))
	if err != nil {
		return nil, fmt.Errorf("tokens: reading %s: %w", path, err)
	}
	if len(b) > maxFile {
		return nil, fmt.Errorf("tokens: %s is larger than %d bytes: %w", path, maxFile, scoreboard.ErrInvalid)
	}
	var tf File
	if err := json.Unmarshal(b, &tf); err != nil {
		return nil, fmt.Errorf("tokens: %s: %v: %w", path, err, scoreboard.ErrInvalid)
	}
	s, err := fromFile(tf, teams)
	if err != nil {
		return nil, fmt.Errorf("tokens: %s: %w", path, err)
	}
	return s, nil
}

// CheckerSecretFile, in the data directory, holds the secret the range's
// targets and checkers share: the game's token at the checkers, the
// master passwords, the range's instance are derived from it.
const CheckerSecretFile = "checker-secret"

// LoadCheckerSecret reads <dir>/checker-secret, or, with create set (a new
// exercise), makes it. Like tokens.json, it is never made anew once the
// exercise exists (the range's targets and checkers hold it), and it is
// refused when other users may read it.
func LoadCheckerSecret(dir string, create bool) (string, error) {
	path := filepath.Join(dir, CheckerSecretFile)
	f, err := os.Open(path)
	if err == nil {
		defer f.Close()
		if err := CheckPrivate(f); err != nil {
			return "", err
		}
		b, err := io.ReadAll(io.LimitReader(f, 4<<10))
		if err != nil {
			return "", fmt.Errorf("tokens: reading %s: %w", path, err)
		}
		s := strings.TrimSpace(string(b))
		if s == "" {
			return "", fmt.Errorf("tokens: %s is empty: %w", path, scoreboard.ErrInvalid)
		}
		return s, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("tokens: %w", err)
	}
	if !create {
		return "", fmt.Errorf("tokens: %s is missing, but the exercise in %s was created with it: restore it "+
			"(the range's targets and checkers hold it), or start a new exercise in another data directory: %w",
			path, dir, scoreboard.ErrNotFound)
	}
	s, err := Generate()
	if err != nil {
		return "", err
	}
	if err := writePrivate(dir, CheckerSecretFile, []byte(s+"\n")); err != nil {
		return "", err
	}
	return s, nil
}

// maxFile bounds tokens.json: 250 teams take about 30 KiB.
const maxFile = 1 << 20

// CheckPrivate refuses a secrets file that users other than its owner may
// read or write, as ssh does with a private key: the organizer fixes the
// mode rather than the exercise widening it silently.
func CheckPrivate(f *os.File) error {
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("tokens: %s: %w", f.Name(), err)
	}
	if m := st.Mode().Perm(); m&0o077 != 0 {
		return fmt.Errorf("tokens: %s is open to other users (mode %04o): run chmod 600 %s: %w",
			f.Name(), m, f.Name(), scoreboard.ErrInvalid)
	}
	return nil
}

func fromFile(f File, teams []scoreboard.Team) (*Set, error) {
	if len(f.Teams) != len(teams) {
		return nil, fmt.Errorf("tokens: %d teams in the file, %d in the scenario: %w", len(f.Teams), len(teams), scoreboard.ErrConflict)
	}
	s := &Set{file: f, byHash: map[[32]byte]Principal{}}
	add := func(tok string, p Principal) error {
		if len(tok) < 16 {
			return fmt.Errorf("tokens: a token is shorter than 16 characters: %w", scoreboard.ErrInvalid)
		}
		h := sha256.Sum256([]byte(tok))
		if _, dup := s.byHash[h]; dup {
			return fmt.Errorf("tokens: a token is used twice: %w", scoreboard.ErrInvalid)
		}
		s.byHash[h] = p
		return nil
	}
	if err := add(f.Organizer, Principal{Kind: Organizer, Team: -1}); err != nil {
		return nil, err
	}
	for i, e := range f.Teams {
		if e.Name != teams[i].Name || e.Role != teams[i].Role {
			return nil, fmt.Errorf("tokens: team %d is %q (%s) in the file, %q (%s) in the scenario: %w",
				i, e.Name, e.Role, teams[i].Name, teams[i].Role, scoreboard.ErrConflict)
		}
		if err := add(e.Token, Principal{Kind: TeamToken, Team: i, Role: e.Role}); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Save writes tokens.json into dir with mode 0600, atomically.
func (s *Set) Save(dir string) error {
	b, err := json.MarshalIndent(s.file, "", "  ")
	if err != nil {
		return fmt.Errorf("tokens: encoding: %w", err)
	}
	return writePrivate(dir, FileName, append(b, '\n'))
}

// writePrivate writes name into dir with mode 0600, atomically and
// durably: a temporary file, synced, renamed into place, and the
// directory synced so that the rename lasts.
func writePrivate(dir, name string, data []byte) error {
	tmp, err := os.CreateTemp(dir, "."+name+"-*")
	if err != nil {
		return fmt.Errorf("tokens: saving %s: %w", name, err)
	}
	defer os.Remove(tmp.Name())
	for _, step := range []func() error{
		func() error { return tmp.Chmod(0o600) },
		func() error { _, err := tmp.Write(data); return err },
		tmp.Sync,
	} {
		if err := step(); err != nil {
			tmp.Close()
			return fmt.Errorf("tokens: saving %s: %w", name, err)
		}
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("tokens: saving %s: %w", name, err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("tokens: saving %s: %w", name, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("tokens: saving %s: %w", name, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("tokens: saving %s: %w", name, err)
	}
	return nil
}

// Lookup returns who tok belongs to. An unknown token is ErrUnauthorized.
func (s *Set) Lookup(tok string) (Principal, error) {
	h := sha256.Sum256([]byte(tok))
	p, ok := s.byHash[h]
	if !ok {
		return Principal{}, fmt.Errorf("tokens: invalid team token: %w", scoreboard.ErrUnauthorized)
	}
	want := s.file.Organizer
	if p.Kind == TeamToken {
		want = s.file.Teams[p.Team].Token
	}
	if subtle.ConstantTimeCompare([]byte(want), []byte(tok)) != 1 {
		return Principal{}, fmt.Errorf("tokens: invalid team token: %w", scoreboard.ErrUnauthorized)
	}
	return p, nil
}

// File returns a copy of the tokens for the organizer.
func (s *Set) File() File {
	f := s.file
	f.Teams = append([]TeamEntry(nil), f.Teams...)
	return f
}

// TeamToken returns team's token.
func (s *Set) TeamToken(team int) string { return s.file.Teams[team].Token }

// OrganizerToken returns the organizer's token.
func (s *Set) OrganizerToken() string { return s.file.Organizer }

// ReadFile reads <dir>/tokens.json as it is, for a client of a running
// exercise that needs a token from it (the organizer's, to move the
// phase). Unlike Load it checks neither the file's mode nor its teams:
// it issues nothing and checks nothing against the file.
func ReadFile(dir string) (File, error) {
	var tf File
	path := filepath.Join(dir, FileName)
	f, err := os.Open(path)
	if err != nil {
		return tf, fmt.Errorf("tokens: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFile))
	if err != nil {
		return tf, fmt.Errorf("tokens: reading %s: %w", path, err)
	}
	if err := json.Unmarshal(b, &tf); err != nil {
		return tf, fmt.Errorf("tokens: %s: %w", path, err)
	}
	return tf, nil
}
