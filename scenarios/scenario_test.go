package scenarios

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var allWeaknesses = []string{"weak_password", "smtp_vrfy", "no_lockout", "webmail_idor", "path_traversal", "admin_default_password"}

func TestBuiltins(t *testing.T) {
	t.Parallel()
	if got, want := Builtins(), []string{"demo", "province-2024", "tiengiang-2023"}; !slices.Equal(got, want) {
		t.Fatalf("Builtins() = %v, want %v", got, want)
	}
	for _, name := range Builtins() {
		s, err := Builtin(name)
		if err != nil {
			t.Fatalf("Builtin(%q): %v", name, err)
		}
		if err := s.Validate(); err != nil {
			t.Errorf("%s: Validate: %v", name, err)
		}
		if s.Name != name || s.Source() != name+".yaml" {
			t.Errorf("%s: Name %q, Source %q", name, s.Name, s.Source())
		}
		if s.Locale != "vi" {
			t.Errorf("%s: locale %q", name, s.Locale)
		}
		// The province's mail system first; the demo and province-2024
		// add its portal.
		if want := map[string]int{"province-2024": 2, "demo": 2}[name]; len(s.Services) != max(want, 1) {
			t.Fatalf("%s: %d services", name, len(s.Services))
		}
		mail := s.Services[0]
		if mail.Name != "mail" || mail.Image != "mailserver" || mail.Checker != "builtin:mailserver" || mail.Weight != 1 {
			t.Errorf("%s: mail service %+v", name, mail)
		}
		if checker, ok := mail.IsBuiltinChecker(); !ok || checker != "mailserver" {
			t.Errorf("%s: IsBuiltinChecker() = %q, %v", name, checker, ok)
		}
		if !slices.Equal(mail.FlagStores, []string{"inbox", "drafts", "attachments"}) {
			t.Errorf("%s: flag stores %v", name, mail.FlagStores)
		}
		if want := []Port{{"smtp", 25}, {"imap", 143}, {"http", 80}}; !slices.Equal(mail.Ports, want) {
			t.Errorf("%s: ports %v, want %v", name, mail.Ports, want)
		}
		weak := mail.Options.Sub("weaknesses")
		if len(weak) != len(allWeaknesses) {
			t.Errorf("%s: weaknesses %v, want exactly %v", name, weak, allWeaknesses)
		}
		for _, w := range allWeaknesses {
			if !weak.Bool(w, false) {
				t.Errorf("%s: weakness %s not enabled", name, w)
			}
		}
	}
}

func TestBuiltinDemo(t *testing.T) {
	t.Parallel()
	s, err := Builtin("demo")
	if err != nil {
		t.Fatal(err)
	}
	if s.Tick != 15*time.Second || s.FlagLifetime != 5 || s.GetflagDepth != 3 || s.Duration != 0 || s.FreezeAt != 0 {
		t.Errorf("timing: tick %v lifetime %d depth %d duration %v freeze %v", s.Tick, s.FlagLifetime, s.GetflagDepth, s.Duration, s.FreezeAt)
	}
	if got := teamNames(s.AttackTeams()); !slices.Equal(got, []string{"Đội tấn công 01", "Đội tấn công 02", "Đội tấn công 03"}) {
		t.Errorf("attack teams %q", got)
	}
	if got := teamNames(s.DefenceTeams()); !slices.Equal(got, []string{"Đội phòng thủ"}) {
		t.Errorf("defence teams %q", got)
	}
	if n := s.Services[0].Options.Int("accounts", 0); n != 300 {
		t.Errorf("accounts %d", n)
	}
}

func TestBuiltinTienGiang(t *testing.T) {
	t.Parallel()
	s, err := Builtin("tiengiang-2023.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if s.Tick != time.Minute || s.FlagLifetime != 5 || s.Duration != 4*time.Hour || s.FreezeAt != 3*time.Hour+30*time.Minute {
		t.Errorf("timing: tick %v lifetime %d duration %v freeze %v", s.Tick, s.FlagLifetime, s.Duration, s.FreezeAt)
	}
	var want []string
	for i := 1; i <= 17; i++ {
		want = append(want, fmt.Sprintf("Đội tấn công %02d", i))
	}
	if got := teamNames(s.AttackTeams()); !slices.Equal(got, want) {
		t.Errorf("attack teams %q", got)
	}
	if got := teamNames(s.DefenceTeams()); !slices.Equal(got, []string{"Đội phòng thủ Sở TT&TT"}) {
		t.Errorf("defence teams %q", got)
	}
	mail := s.Services[0]
	if mail.Title != "Hệ thống thư điện tử công vụ tỉnh Tiền Giang" {
		t.Errorf("service title %q", mail.Title)
	}
	if n := mail.Options.Int("accounts", 0); n != 11200 {
		t.Errorf("accounts %d", n)
	}
}

func TestBuiltinUnknown(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"nope", "../demo", "demo/", ""} {
		if _, err := Builtin(name); !errors.Is(err, ErrNotFound) {
			t.Errorf("Builtin(%q) = %v, want ErrNotFound", name, err)
		}
	}
}

func TestOpen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "mine.yaml")
	if err := os.WriteFile(good, []byte(base), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte(base+"tick: 0s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A file named like a built-in wins over the built-in.
	shadow := filepath.Join(dir, "demo")
	if err := os.WriteFile(shadow, []byte(base), 0o600); err != nil {
		t.Fatal(err)
	}

	if s, err := Open(good); err != nil || s.Name != "t" || s.Source() != good {
		t.Errorf("Open(file) = %v, %v", s, err)
	}
	if s, err := Open("demo"); err != nil || s.Name != "demo" || s.Source() != "demo.yaml" {
		t.Errorf("Open(demo) = %v, %v", s, err)
	}
	if s, err := Open(shadow); err != nil || s.Name != "t" {
		t.Errorf("Open(shadowing file) = %v, %v", s, err)
	}
	if _, err := Open(filepath.Join(dir, "missing.yaml")); !errors.Is(err, ErrNotFound) {
		t.Errorf("Open(missing) = %v, want ErrNotFound", err)
	}
	_, err := Open(bad)
	want := bad + ":7: tick: must be at least 1s (got 0s)"
	if err == nil || err.Error() != want {
		t.Errorf("Open(bad) = %v, want %s", err, want)
	}
	var e *Error
	if !errors.As(err, &e) || e.Line != 7 || e.Field != "tick" || e.File != bad {
		t.Errorf("errors.As(*Error) = %+v", e)
	}
	if _, err := LoadFile(dir); err == nil {
		t.Errorf("LoadFile(directory) succeeded")
	}
}

func TestLoadFileTooLarge(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(path, bytes.Repeat([]byte("#"), 3*MaxFileSize), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadFile(path)
	if want := path + ": file is larger than 1048576 bytes"; err == nil || err.Error() != want {
		t.Errorf("LoadFile = %v, want %s", err, want)
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	s, err := Load("t.yaml", []byte(`name: t
teams:
  - {name: A, role: attack}
  - {name: B, role: both}
  - {name: D, role: defense}
  - {name: C, role: attack, short: x9}
  - {name: E, role: attack}
  - {name: F, role: both}
services:
  - {name: web, flag_stores: [f]}
  - {name: db, image: registry.example/db:1, checker: "https://checker.example:8000/", flag_stores: [f]}
`))
	if err != nil {
		t.Fatal(err)
	}
	want := &Scenario{
		Name: "t", Title: "t", Locale: "vi",
		Tick: 60 * time.Second, FlagLifetime: 5, GetflagDepth: 3,
		Scoring:    Scoring{FirstBlood: 10, DetectionTrue: 5, DetectionTimeliness: 5, DetectionFalse: 2.5, DetectionStore: 2},
		Submission: Submission{Rate: 100, Burst: 2000, MaxLine: 200},
		Network:    DefaultNetwork(),
		Teams: []Team{
			{Name: "A", Role: RoleAttack, Short: "a01"},
			{Name: "B", Role: RoleBoth, Short: "t01"},
			{Name: "D", Role: RoleDefence, Short: "d01"},
			{Name: "C", Role: RoleAttack, Short: "x9"},
			{Name: "E", Role: RoleAttack, Short: "a03"},
			{Name: "F", Role: RoleBoth, Short: "t02"},
		},
		Services: []Service{
			{Name: "web", Title: "web", Image: "web", Checker: "builtin:web", Weight: 1, FlagStores: []string{"f"}},
			{Name: "db", Title: "db", Image: "registry.example/db:1", Checker: "https://checker.example:8000/", Weight: 1, FlagStores: []string{"f"}},
		},
	}
	if got, exp := string(s.Canonical()), string(want.Canonical()); got != exp {
		t.Errorf("defaults:\n%s\nwant:\n%s", got, exp)
	}
	if _, ok := s.Services[1].IsBuiltinChecker(); ok {
		t.Errorf("URL checker reported as built-in")
	}
	if got := teamNames(s.AttackTeams()); !slices.Equal(got, []string{"A", "B", "C", "E", "F"}) {
		t.Errorf("AttackTeams %q", got)
	}
	if got := teamNames(s.DefenceTeams()); !slices.Equal(got, []string{"B", "D", "F"}) {
		t.Errorf("DefenceTeams %q", got)
	}
}

// Explicit zeros are kept where zero is allowed, and not replaced by the
// default.
func TestExplicitZeros(t *testing.T) {
	t.Parallel()
	s, err := Load("t.yaml", []byte("scoring: {first_blood: 0, detection_false: 0}\nduration: 0\nfreeze_at: 0s\n"+base))
	if err != nil {
		t.Fatal(err)
	}
	if s.Scoring.FirstBlood != 0 || s.Scoring.DetectionFalse != 0 || s.Scoring.DetectionTrue != DefaultDetectionTrue {
		t.Errorf("scoring %+v", s.Scoring)
	}
	if s.Duration != 0 || s.FreezeAt != 0 {
		t.Errorf("duration %v freeze %v", s.Duration, s.FreezeAt)
	}
}

func TestGetflagDepthDefaultFollowsLifetime(t *testing.T) {
	t.Parallel()
	s, err := Load("t.yaml", []byte("flag_lifetime: 2\n"+base))
	if err != nil {
		t.Fatal(err)
	}
	if s.GetflagDepth != 2 {
		t.Errorf("getflag_depth = %d, want 2", s.GetflagDepth)
	}
}

func TestAnchorsAndMerges(t *testing.T) {
	t.Parallel()
	s, err := Load("t.yaml", []byte(`name: t
teams:
  - &attacker {name: A, role: attack}
  - {<<: *attacker, name: B}
  - {name: D, role: defence}
services:
  - &svc
    name: web
    flag_stores: &stores [f, g]
    options: &opts {level: 3, tags: [x, y]}
  - {<<: *svc, name: api, weight: 2}
  - {name: db, flag_stores: *stores, options: {<<: *opts, level: 4}}
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := teamNames(s.AttackTeams()); !slices.Equal(got, []string{"A", "B"}) {
		t.Errorf("attack teams %q", got)
	}
	api, db := s.Services[1], s.Services[2]
	if api.Name != "api" || api.Weight != 2 || !slices.Equal(api.FlagStores, []string{"f", "g"}) || api.Options.Int("level", 0) != 3 {
		t.Errorf("merged service %+v", api)
	}
	if !slices.Equal(db.FlagStores, []string{"f", "g"}) || db.Options.Int("level", 0) != 4 || len(db.Options["tags"].([]any)) != 2 {
		t.Errorf("aliased service %+v", db)
	}
}

func TestAliasBomb(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString(base)
	b.WriteString("    options:\n      a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 9; i++ {
		fmt.Fprintf(&b, "      a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	data := strings.Replace(b.String(), "  - {name: web, flag_stores: [f]}\n", "  - name: web\n    flag_stores: [f]\n", 1)
	_, err := Load("t.yaml", []byte(data))
	want := "t.yaml:9: services[0].options.a5[7][8][8][8][6][8]: too complex: aliases and merge keys expand to more than 1000000 nodes"
	if err == nil || err.Error() != want {
		t.Errorf("Load = %v, want %s", err, want)
	}
}

// Large hostile files stay cheap: the error list is capped, and neither
// suggestions nor the checks for follow-on errors grow quadratically.
func TestLargeBrokenFiles(t *testing.T) {
	t.Parallel()
	items := "name: t\nteams:\n" + strings.Repeat("  - x\n", MaxFileSize/8)
	var keys strings.Builder
	keys.WriteString("name: t\n")
	for i := 0; keys.Len() < MaxFileSize-64; i++ {
		fmt.Fprintf(&keys, "k%07d: 1\n", i)
	}
	for _, data := range []string{items, keys.String()} {
		_, err := Load("t.yaml", []byte(data))
		var errs Errors
		if !errors.As(err, &errs) {
			t.Fatalf("Load = %v", err)
		}
		if len(errs) != maxErrors+1 || !strings.HasSuffix(errs[maxErrors].Msg, "more problems not shown") {
			t.Errorf("%d errors, last %v", len(errs), errs[len(errs)-1])
		}
	}
}

// An unknown key leaves nothing half-read, so it does not hide other
// problems in the same list.
func TestUnknownKeyHidesNothing(t *testing.T) {
	t.Parallel()
	_, err := Load("t.yaml", []byte("name: t\nteams:\n  - {name: A, role: attack, colour: red}\nservices:\n  - {name: web, flag_stores: [f]}\n"))
	want := "t.yaml:2: teams: needs at least one team with role defence or both\n" +
		"t.yaml:3: teams[0].colour: unknown field"
	if err == nil || err.Error() != want {
		t.Errorf("Load = %v\nwant:\n%s", err, want)
	}
}

func TestUnicodeRoundTrip(t *testing.T) {
	t.Parallel()
	names := []string{
		"Đội tấn công 01",
		"Đội phòng thủ Sở TT&TT",
		// The same letters decomposed into base letters and combining marks:
		// kept exactly, not normalized.
		"Đo\u0323\u0302i ba\u0309o ve\u0323\u0302",
		"Nhóm \"Sóc Trăng\" — ứng cứu sự cố: #1",
		"Ỹ ỹ Ỵ ỵ ẞ 🛡️",
	}
	var b strings.Builder
	b.WriteString("name: u\ntitle: \"Diễn tập — Tiền Giang\"\nteams:\n")
	for i, n := range names {
		role := "attack"
		if i == 1 {
			role = "defence"
		}
		fmt.Fprintf(&b, "  - name: %q\n    role: %s\n", n, role)
	}
	b.WriteString("services:\n  - name: mail\n    title: \"Thư điện tử công vụ\"\n    flag_stores: [inbox]\n    options: {\"tên miền\": \"tiền-giang.gov.vn\"}\n")

	s, err := Load("u.yaml", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	check := func(stage string, s *Scenario) {
		t.Helper()
		if got := teamNames(s.Teams); !slices.Equal(got, names) {
			t.Errorf("%s: names %q, want %q", stage, got, names)
		}
		if s.Title != "Diễn tập — Tiền Giang" || s.Services[0].Title != "Thư điện tử công vụ" {
			t.Errorf("%s: titles %q, %q", stage, s.Title, s.Services[0].Title)
		}
		if got := s.Services[0].Options.String("tên miền", ""); got != "tiền-giang.gov.vn" {
			t.Errorf("%s: option %q", stage, got)
		}
	}
	check("loaded", s)
	canon := s.Canonical()
	if !bytes.Contains(canon, []byte("Đội tấn công 01")) {
		t.Errorf("canonical form escapes Vietnamese text:\n%s", canon)
	}
	again, err := Load("u.yaml", canon)
	if err != nil {
		t.Fatalf("canonical form does not load: %v\n%s", err, canon)
	}
	check("reloaded", again)
	if again.Hash() != s.Hash() {
		t.Errorf("hash changed over a round trip")
	}
	if c := s.WithAttackTeams(2); c.Teams[2].Name != names[1] {
		t.Errorf("WithAttackTeams lost the defence team's name: %q", teamNames(c.Teams))
	}
}

func TestCanonicalGolden(t *testing.T) {
	t.Parallel()
	for _, name := range Builtins() {
		s, err := Builtin(name)
		if err != nil {
			t.Fatal(err)
		}
		got := s.Canonical()
		path := filepath.Join("testdata", name+".canonical.yaml")
		if *update {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -update to create it)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: canonical form differs from %s (run go test -update if intended):\n%s", name, path, got)
		}
		again, err := Load(name+".yaml", got)
		if err != nil {
			t.Fatalf("%s: canonical form does not load: %v", name, err)
		}
		if !bytes.Equal(again.Canonical(), got) {
			t.Errorf("%s: canonical form is not a fixed point", name)
		}
	}
}

func TestHash(t *testing.T) {
	t.Parallel()
	load := func(src string) string {
		t.Helper()
		s, err := Load("t.yaml", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		return s.Hash()
	}
	h := load(base)
	if len(h) != 64 {
		t.Errorf("hash %q is not hex SHA-256", h)
	}
	same := []string{
		"# a comment\n" + base,
		// Keys in another order, block style, defaults spelled out.
		`services:
  - name: web
    flag_stores:
      - f
    weight: 1.0
    checker: builtin:web
teams:
  - {role: attack, name: A}
  - {name: D, role: defence, short: d01}
tick: 1m0s
name: t
scoring: {detection_false: 2.50}
network:
  docker: {teams: 10.60.0.0/16}
`,
	}
	for i, src := range same {
		if got := load(src); got != h {
			t.Errorf("variant %d: hash %s, want %s", i, got, h)
		}
	}
	different := []string{
		"tick: 59s\n" + base,
		"title: x\n" + base,
		"require_telemetry: true\n" + base,
		"scoring: {detection_store: 2.5}\n" + base,
		strings.Replace(base, "name: A,", "name: a,", 1),
		strings.Replace(base, "[f]", "[f, g]", 1),
		strings.Replace(base, "[f]}", "[f], options: {x: 1}}", 1),
	}
	seen := map[string]int{h: -1}
	for i, src := range different {
		got := load(src)
		if j, dup := seen[got]; dup {
			t.Errorf("variant %d has the same hash as variant %d", i, j)
		}
		seen[got] = i
	}
}

func TestWithAttackTeams(t *testing.T) {
	t.Parallel()
	demo, err := Builtin("demo")
	if err != nil {
		t.Fatal(err)
	}
	before := demo.Hash()
	c := demo.WithAttackTeams(17)
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if demo.Hash() != before || len(demo.Teams) != 4 {
		t.Errorf("WithAttackTeams changed the original")
	}
	if len(c.Teams) != 18 || len(c.AttackTeams()) != 17 {
		t.Fatalf("teams %q", teamNames(c.Teams))
	}
	if c.Teams[16].Name != "Đội tấn công 17" || c.Teams[16].Short != "a17" || c.Teams[16].Role != RoleAttack {
		t.Errorf("team 17 = %+v", c.Teams[16])
	}
	if c.Teams[17].Name != "Đội phòng thủ" || c.Teams[17].Short != "d01" {
		t.Errorf("defence team = %+v", c.Teams[17])
	}
	if c.Source() != "demo.yaml" {
		t.Errorf("source %q", c.Source())
	}

	// Teams with role both stay where they were; the generated teams take
	// the place of the first attack team.
	mixed, err := Load("t.yaml", []byte(`name: t
teams:
  - {name: B, role: both}
  - {name: A1, role: attack}
  - {name: D, role: defence}
  - {name: A2, role: attack}
services:
  - {name: web, flag_stores: [f]}
`))
	if err != nil {
		t.Fatal(err)
	}
	got := teamNames(mixed.WithAttackTeams(2).Teams)
	if want := []string{"B", "Đội tấn công 01", "Đội tấn công 02", "D"}; !slices.Equal(got, want) {
		t.Errorf("teams %q, want %q", got, want)
	}
	got = teamNames(mixed.WithAttackTeams(0).Teams)
	if want := []string{"B", "D"}; !slices.Equal(got, want) {
		t.Errorf("teams %q, want %q", got, want)
	}

	// The copy carries no line numbers, and the address plan bounds n.
	err = demo.WithAttackTeams(MaxTeams).Validate()
	want := "demo.yaml: teams: must have at most 250 teams (got 251)"
	if err == nil || err.Error() != want {
		t.Errorf("Validate = %v, want %s", err, want)
	}
	if err := demo.WithAttackTeams(0).Validate(); err == nil || err.Error() != "demo.yaml: teams: needs at least one team with role attack or both" {
		t.Errorf("Validate with no attack teams = %v", err)
	}
}

func TestAddressPlan(t *testing.T) {
	t.Parallel()
	p := DefaultNetwork().Docker
	cases := []struct {
		get  func(int) (netip.Prefix, bool)
		i    int
		want string
	}{
		{p.TeamSubnet, 1, "10.60.1.0/24"},
		{p.TeamSubnet, 17, "10.60.17.0/24"},
		{p.TeamSubnet, 255, "10.60.255.0/24"},
		{p.TeamSubnet, 256, ""},
		{p.TeamSubnet, 0, ""},
		{p.ReplicaSubnet, 1, "10.61.1.0/24"},
		{DefaultNetwork().Local.TeamSubnet, 3, "127.60.3.0/24"},
		{AddressPlan{Teams: netip.MustParsePrefix("10.0.16.0/20")}.TeamSubnet, 15, "10.0.31.0/24"},
		{AddressPlan{Teams: netip.MustParsePrefix("10.0.16.0/20")}.TeamSubnet, 16, ""},
		{AddressPlan{Teams: netip.MustParsePrefix("10.0.0.0/8")}.TeamSubnet, 300, "10.1.44.0/24"},
		{AddressPlan{Teams: netip.MustParsePrefix("10.0.0.0/25")}.TeamSubnet, 1, ""},
		{AddressPlan{}.TeamSubnet, 1, ""},
	}
	for _, tc := range cases {
		got, ok := tc.get(tc.i)
		if ok != (tc.want != "") || (ok && got.String() != tc.want) {
			t.Errorf("subnet %d = %v, %v; want %q", tc.i, got, ok, tc.want)
		}
	}
}

func TestFlagPattern(t *testing.T) {
	t.Parallel()
	if got := (FlagFormat{}).Pattern(); got != "[A-Z0-9]{31}=" {
		t.Errorf("Pattern() = %q", got)
	}
	if got := (FlagFormat{Prefix: "TG"}).Pattern(); got != "TG[A-Z0-9]{29}=" {
		t.Errorf("Pattern() = %q", got)
	}
}

func TestOptions(t *testing.T) {
	t.Parallel()
	s, err := Load("t.yaml", []byte(strings.Replace(base, "[f]}", `[f], options: {n: 7, big: 2.0, frac: 2.5, on: true, s: x, when: 2023-11-01, nested: {k: v}, none: null}}`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	o := s.Services[0].Options
	cases := []struct {
		got, want any
	}{
		{o.Int("n", -1), 7},
		{o.Int("big", -1), 2},
		{o.Int("frac", -1), -1},
		{o.Int("s", -1), -1},
		{o.Int("missing", -1), -1},
		{o.Bool("on", false), true},
		{o.Bool("n", false), false},
		{o.String("s", ""), "x"},
		{o.String("when", ""), "2023-11-01"},
		{o.String("n", "def"), "def"},
		{o.Sub("nested").String("k", ""), "v"},
		{o.Sub("s") == nil, true},
		{o["none"] == nil, true},
	}
	for i, tc := range cases {
		if tc.got != tc.want {
			t.Errorf("case %d: got %v, want %v", i, tc.got, tc.want)
		}
	}
}

func TestErrorFormat(t *testing.T) {
	t.Parallel()
	cases := []struct {
		e    Error
		want string
	}{
		{Error{"demo.yaml", 12, "services[0].weight", "must be greater than 0"}, "demo.yaml:12: services[0].weight: must be greater than 0"},
		{Error{"demo.yaml", 0, "name", "is required"}, "demo.yaml: name: is required"},
		{Error{"demo.yaml", 3, "", "invalid YAML: x"}, "demo.yaml:3: invalid YAML: x"},
		{Error{"", 0, "tick", "must be at least 1s"}, "tick: must be at least 1s"},
		{Error{"", 4, "tick", "m"}, "line 4: tick: m"},
	}
	for _, tc := range cases {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
	errs := Errors{&cases[0].e, &cases[1].e}
	if got := errs.Error(); got != cases[0].want+"\n"+cases[1].want {
		t.Errorf("Errors.Error() = %q", got)
	}
}

func TestCloneIsDeep(t *testing.T) {
	t.Parallel()
	s, err := Builtin("demo")
	if err != nil {
		t.Fatal(err)
	}
	h := s.Hash()
	c := s.Clone()
	c.Teams[0].Name = "x"
	c.Services[0].FlagStores[0] = "x"
	c.Services[0].Ports[0].Number = 2525
	c.Services[0].Options.Sub("weaknesses")["smtp_vrfy"] = false
	c.Services[0].Options["accounts"] = 1
	if s.Hash() != h {
		t.Errorf("changing the clone changed the original")
	}
}

func TestFormatDuration(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		0: "0s", time.Second: "1s", 15 * time.Second: "15s", time.Minute: "1m", 90 * time.Second: "1m30s",
		2 * time.Hour: "2h", 3*time.Hour + 30*time.Minute: "3h30m", time.Hour + time.Second: "1h0m1s",
		1500 * time.Millisecond: "1.5s", -time.Hour: "-1h",
	} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", d, got, want)
		}
		if back, err := time.ParseDuration(formatDuration(d)); err != nil || back != d {
			t.Errorf("formatDuration(%v) does not parse back: %v, %v", d, back, err)
		}
	}
}

func teamNames(teams []Team) []string {
	out := make([]string, len(teams))
	for i, t := range teams {
		out[i] = t.Name
	}
	return out
}

// BenchmarkLoad measures reading, defaulting and validating the largest
// built-in scenario, as every command that takes a scenario does once.
func BenchmarkLoad(b *testing.B) {
	data, err := builtinFiles.ReadFile("tiengiang-2023.yaml")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		if _, err := Load("tiengiang-2023.yaml", data); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "loads/s")
}
