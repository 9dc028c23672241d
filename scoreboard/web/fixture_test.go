package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/scoreboard"
	"github.com/cyrange/cyrange/scoreboard/scoreboardtest"
	"github.com/cyrange/cyrange/scoreboard/tokens"
)

// okChecker plants every flag and finds every service up.
type okChecker struct{}

func (okChecker) CheckTick(_ context.Context, p scoreboard.TickPlan) []scoreboard.ReplicaCheck {
	var out []scoreboard.ReplicaCheck
	for _, r := range p.Replicas {
		rc := scoreboard.ReplicaCheck{Tick: p.Tick, Owner: r.Owner, Service: r.Service, Status: scoreboard.StatusOK}
		for _, f := range r.Put {
			rc.Planted = append(rc.Planted, scoreboard.Planted{ID: f.ID, OK: true,
				AttackInfo: fmt.Sprintf("hộp thư u%d-%d", f.ID.Tick, f.ID.Store)})
		}
		out = append(out, rc)
	}
	return out
}

// fakeLive answers each stream with a marker and records who asked.
type fakeLive struct {
	mu    sync.Mutex
	teams []int
}

func (l *fakeLive) ServePublic(w http.ResponseWriter, _ *http.Request) {
	io.WriteString(w, "public stream")
}
func (l *fakeLive) ServeAdmin(w http.ResponseWriter, _ *http.Request) {
	io.WriteString(w, "admin stream")
}
func (l *fakeLive) ServeTeam(w http.ResponseWriter, _ *http.Request, team int) {
	l.mu.Lock()
	l.teams = append(l.teams, team)
	l.mu.Unlock()
	fmt.Fprintf(w, "team %d stream", team)
}

// fakeFlags records what the submission handler received.
type fakeFlags struct {
	mu     sync.Mutex
	tokens []string
	bodies []string
}

func (f *fakeFlags) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.tokens = append(f.tokens, r.Header.Get("X-Team-Token"))
	f.bodies = append(f.bodies, string(b))
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, "[]")
}

// fakeDetections keeps reports per team in memory and judges none.
type fakeDetections struct {
	now     func() time.Time
	mu      sync.Mutex
	reports map[int][]scoreboard.DetectionView
}

func (d *fakeDetections) Report(_ context.Context, team int, body json.RawMessage) (scoreboard.DetectionAck, error) {
	var v scoreboard.DetectionView
	if err := json.Unmarshal(body, &v); err != nil || v.Attacker == "" {
		return scoreboard.DetectionAck{}, fmt.Errorf("detections: attacker is required: %w", scoreboard.ErrInvalid)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.reports == nil {
		d.reports = map[int][]scoreboard.DetectionView{}
	}
	v.ID, v.ReportedAt, v.Verdict = int64(len(d.reports[team])+1), d.now(), "pending"
	d.reports[team] = append(d.reports[team], v)
	return scoreboard.DetectionAck{ID: v.ID, Verdict: v.Verdict}, nil
}

func (d *fakeDetections) List(_ context.Context, team int) ([]scoreboard.DetectionView, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]scoreboard.DetectionView{}, d.reports[team]...), nil
}

// fakeRange reports a fixed health (the local driver running both mail
// replicas) and, being a Gateways, a gateway; being an AdminConsoles, it
// leads the defending teams to consoles, when it has them.
type fakeRange struct {
	err      error
	consoles *fakeConsoles
}

func (r fakeRange) Health(context.Context) (cyberrange.Health, error) {
	if r.err != nil {
		return cyberrange.Health{}, r.err
	}
	rep := cyberrange.Report{Exercise: "thu-nghiem", Driver: "local", Healthy: true, Running: 2, Total: 2,
		Networks: []cyberrange.NetworkReport{}, Containers: []cyberrange.ContainerReport{
			{Name: "thu-nghiem-target-0", Kind: cyberrange.KindTarget, Team: "Đội Cần Thơ", Service: "mail",
				State: cyberrange.StateRunning},
			{Name: "thu-nghiem-target-1", Kind: cyberrange.KindTarget, Team: "Đội Phòng thủ Tỉnh", Service: "mail",
				State: cyberrange.StateRunning},
		}}
	return cyberrange.Health{Driver: rep.Driver, Report: &rep}, nil
}

func (r fakeRange) Gateway(_ context.Context, team int) (any, error) {
	return map[string]any{"socks5": fmt.Sprintf("127.0.10.%d:1080", team+1), "user": "team"}, nil
}

func (r fakeRange) DefenceGateway(_ context.Context, team int) (any, error) {
	if r.consoles == nil || !testConfig().Teams[team].Role.Defends() {
		return nil, fmt.Errorf("fake: team %d has no defence gateway: %w", team, cyberrange.ErrNotFound)
	}
	return map[string]any{"socks5": fmt.Sprintf("127.0.30.%d:1080", team+1), "user": testConfig().Teams[team].Name,
		"short": fmt.Sprintf("d%02d", team)}, nil
}

func (r fakeRange) AdminConsole(ctx context.Context, team, service int) (AdminConsole, error) {
	if r.consoles == nil {
		return AdminConsole{}, fmt.Errorf("fake: no consoles: %w", cyberrange.ErrNotFound)
	}
	return r.consoles.admin(ctx, team, service)
}

func (r fakeRange) ConsoleURL(_ context.Context, owner, service int) (string, error) {
	return fmt.Sprintf("http://127.0.20.%d:8025/", 2+owner-teamCanTho+service), nil
}

// Teams of the test scenario: every role is present.
const (
	teamHaNoi  = 0 // attack
	teamDaNang = 1 // attack
	teamCanTho = 2 // both
	teamDef    = 3 // defence
)

// mailPorts are the ports teams reach the test's mail replicas on.
var mailPorts = []scoreboard.Port{{Name: "smtp", Number: 10025}, {Name: "imap", Number: 10143}, {Name: "http", Number: 10080}}

var testStart = time.Date(2026, 3, 2, 8, 0, 0, 0, time.FixedZone("ICT", 7*3600))

func testConfig() *scoreboard.Config {
	return &scoreboard.Config{
		Name:  "thu-nghiem",
		Title: "Diễn tập thử nghiệm",
		Teams: []scoreboard.Team{
			{ID: 0, Name: "Đội Hà Nội", Role: scoreboard.RoleAttack, Network: "127.0.10.0/24"},
			{ID: 1, Name: "Đội Đà Nẵng", Role: scoreboard.RoleAttack, Network: "127.0.11.0/24"},
			{ID: 2, Name: "Đội Cần Thơ", Role: scoreboard.RoleBoth, Network: "127.0.12.0/24"},
			{ID: 3, Name: "Đội Phòng thủ Tỉnh", Role: scoreboard.RoleDefence},
		},
		Services: []scoreboard.Service{
			{ID: 0, Name: "mail", Title: "Thư điện tử công vụ", Weight: 1, Stores: []string{"inbox", "draft"}},
		},
		Replicas: []scoreboard.Replica{
			{Owner: teamCanTho, Service: 0, Address: "127.0.20.2", Ports: mailPorts},
			{Owner: teamDef, Service: 0, Address: "127.0.20.3", Ports: mailPorts},
		},
		Tick:         time.Minute,
		FlagLifetime: 5,
		GetflagDepth: 3,
		FlagPrefix:   "VN",
		Scoring:      scoreboard.DefaultScoring(),
		RatePerTeam:  100,
		Burst:        100,
	}
}

type fixture struct {
	t   testing.TB
	mu  sync.Mutex
	now time.Time
	// logins counts fx.login's calls, which each come from an address of
	// their own.
	logins int
	cfg    *scoreboard.Config
	game   *scoreboard.Game
	toks   *tokens.Set
	srv    *Server
	live   *fakeLive
	flags  *fakeFlags
	det    *fakeDetections
	logs   *syncBuffer
	log    *scoreboardtest.MemLog
	// consoles are the defending teams' admin consoles.
	consoles *fakeConsoles
}

// fixedTokens makes tokens.json deterministic so responses can be golden.
func fixedTokens(t testing.TB, cfg *scoreboard.Config) *tokens.Set {
	t.Helper()
	f := tokens.File{Organizer: "0rg0000000000000000000000000000a"}
	for i, tm := range cfg.Teams {
		f.Teams = append(f.Teams, tokens.TeamEntry{Name: tm.Name, Role: tm.Role,
			Token: fmt.Sprintf("7ea%029d", i)})
	}
	dir := t.TempDir()
	b, _ := json.Marshal(f)
	if err := os.WriteFile(filepath.Join(dir, tokens.FileName), b, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := tokens.Load(dir, cfg.Teams, true)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type fixtureOpt func(*Options)

func newFixture(t testing.TB, opts ...fixtureOpt) *fixture {
	t.Helper()
	return newFixtureWith(t, nil, opts...)
}

// newFixtureWith lets edit change the scenario before the game starts.
func newFixtureWith(t testing.TB, edit func(*scoreboard.Config), opts ...fixtureOpt) *fixture {
	t.Helper()
	cfg := testConfig()
	if edit != nil {
		edit(cfg)
	}
	fx := &fixture{t: t, cfg: cfg, now: testStart}
	clock := fx.clock
	fx.log = &scoreboardtest.MemLog{}
	g, err := scoreboard.NewGame(context.Background(), scoreboard.Options{Config: cfg, Log: fx.log,
		Key: []byte("khoá bí mật của cuộc diễn tập thử"), Checker: okChecker{}, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	fx.game, fx.toks, fx.live = g, fixedTokens(t, cfg), &fakeLive{}
	fx.flags, fx.det, fx.logs = &fakeFlags{}, &fakeDetections{now: clock}, &syncBuffer{}
	fx.consoles = newFakeConsoles(t)
	o := Options{Game: g, Auth: fx.toks, Live: fx.live, Flags: fx.flags, Detections: fx.det,
		Range: fakeRange{consoles: fx.consoles}, Events: fx.log, Now: clock, Logger: slog.New(slog.NewTextHandler(fx.logs, nil))}
	for _, f := range opts {
		f(&o)
	}
	fx.srv = New(o)
	return fx
}

func (fx *fixture) clock() time.Time {
	fx.mu.Lock()
	defer fx.mu.Unlock()
	return fx.now
}

func (fx *fixture) advance(d time.Duration) {
	fx.mu.Lock()
	fx.now = fx.now.Add(d)
	fx.mu.Unlock()
}

// play runs a short game: start, one tick with every flag planted, and a
// few captures, so that every view has something in it.
func (fx *fixture) play() {
	fx.t.Helper()
	ctx := context.Background()
	if err := fx.game.Act(ctx, scoreboard.ActStart); err != nil {
		fx.t.Fatal(err)
	}
	if err := fx.game.StartTick(ctx); err != nil {
		fx.t.Fatal(err)
	}
	fx.game.WaitChecks()
	fx.capture(teamHaNoi, teamDef, "inbox")
	fx.capture(teamCanTho, teamDef, "inbox")
	fx.capture(teamDaNang, teamCanTho, "draft")
}

// capture makes team submit the current flag of owner's store.
func (fx *fixture) capture(team, owner int, store string) {
	fx.t.Helper()
	flags, err := fx.game.IssuedFlags(0)
	if err != nil {
		fx.t.Fatal(err)
	}
	for _, f := range flags {
		if f.Team == fx.cfg.Teams[owner].Name && f.Store == store {
			v, err := fx.game.Submit(context.Background(), team, [][]byte{[]byte(f.Flag)})
			if err != nil || v[0].Code != scoreboard.CodeOK {
				fx.t.Fatalf("capture by %d of %s: %v %+v", team, f.Flag, err, v)
			}
			return
		}
	}
	fx.t.Fatalf("no flag of team %d store %s", owner, store)
}

// secrets returns every token and every flag issued so far.
func (fx *fixture) secrets() []string {
	f := fx.toks.File()
	out := []string{f.Organizer}
	for _, t := range f.Teams {
		out = append(out, t.Token)
	}
	for tick := int32(1); ; tick++ {
		flags, err := fx.game.IssuedFlags(tick)
		if errors.Is(err, scoreboard.ErrNotFound) {
			break
		}
		if err != nil {
			fx.t.Fatal(err)
		}
		for _, fl := range flags {
			out = append(out, fl.Flag)
		}
	}
	return out
}

// cred is how a request proves who it is.
type cred struct {
	bearer, header, cookie, origin string
	// source is the client's address ("192.0.2.1:1234" when empty).
	source string
}

func (fx *fixture) teamToken(team int) string { return fx.toks.TeamToken(team) }

// do sends one request through the server's handler.
func (fx *fixture) do(method, target, body string, c cred) *httptest.ResponseRecorder {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, target, rd)
	if c.bearer != "" {
		r.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	if c.header != "" {
		r.Header.Set("X-Team-Token", c.header)
	}
	if c.cookie != "" {
		r.AddCookie(&http.Cookie{Name: sessionCookie, Value: c.cookie})
	}
	if c.origin != "" {
		r.Header.Set("Origin", c.origin)
	}
	if c.source != "" {
		r.RemoteAddr = c.source
	}
	w := httptest.NewRecorder()
	fx.srv.Handler().ServeHTTP(w, r)
	return w
}

// login returns a session cookie for tok. Each login comes from an
// address of its own, so that tests do not run into the limit of logins
// per source.
func (fx *fixture) login(tok string) *http.Cookie {
	fx.t.Helper()
	fx.mu.Lock()
	fx.logins++
	src := fmt.Sprintf("198.18.%d.%d:40000", fx.logins>>8&0xff, fx.logins&0xff)
	fx.mu.Unlock()
	w := fx.do(http.MethodPost, "/api/v1/login", fmt.Sprintf(`{"token":%q}`, tok), cred{source: src})
	if w.Code != http.StatusOK {
		fx.t.Fatalf("login: %d %s", w.Code, w.Body)
	}
	for _, c := range w.Result().Cookies() {
		if c.Name == sessionCookie {
			return c
		}
	}
	fx.t.Fatal("login set no session cookie")
	return nil
}

// syncBuffer collects log output from any goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
