package browser

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/scoreboard"
	"github.com/cyrange/cyrange/scoreboard/live"
	"github.com/cyrange/cyrange/scoreboard/scoreboardtest"
	"github.com/cyrange/cyrange/scoreboard/submit"
	"github.com/cyrange/cyrange/scoreboard/tokens"
	"github.com/cyrange/cyrange/scoreboard/web"
)

// The test exercise: eight provincial attack teams against the province's
// defence team, which runs two services.
var attackTeams = []string{"Đội Hà Nội", "Đội Hải Phòng", "Đội Đà Nẵng", "Đội Cần Thơ",
	"Đội Thừa Thiên Huế", "Đội Nghệ An", "Đội Quảng Ninh", "Đội Khánh Hòa"}

const (
	defenceName = "Đội Phòng thủ Tiền Giang"
	mail        = 0
	portal      = 1
)

func defenceTeam() int { return len(attackTeams) }

func testConfig() *scoreboard.Config {
	cfg := &scoreboard.Config{
		Name:   "tiengiang-thu",
		Title:  "Diễn tập thực chiến Tiền Giang (thử nghiệm)",
		Locale: "vi",
		Services: []scoreboard.Service{
			{ID: mail, Name: "mail", Title: "Thư điện tử công vụ", Weight: 1, Stores: []string{"inbox", "drafts", "attachments"}},
			{ID: portal, Name: "portal", Title: "Cổng thông tin", Weight: 1.5, Stores: []string{"news"}},
		},
		Tick: time.Minute, FlagLifetime: 5, GetflagDepth: 3, FlagPrefix: "TG",
		Scoring: scoreboard.DefaultScoring(), RatePerTeam: 1000, Burst: 1000,
	}
	for i, n := range attackTeams {
		cfg.Teams = append(cfg.Teams, scoreboard.Team{ID: i, Name: n, Role: scoreboard.RoleAttack,
			Network: fmt.Sprintf("127.0.%d.0/24", 11+i)})
	}
	cfg.Teams = append(cfg.Teams, scoreboard.Team{ID: defenceTeam(), Name: defenceName, Role: scoreboard.RoleDefence})
	cfg.Replicas = []scoreboard.Replica{
		{Owner: defenceTeam(), Service: mail, Address: "127.0.20.10", Ports: []scoreboard.Port{
			{Name: "smtp", Number: 10025}, {Name: "imap", Number: 10143}, {Name: "http", Number: 10080}}},
		{Owner: defenceTeam(), Service: portal, Address: "127.0.20.11", Ports: []scoreboard.Port{{Name: "http", Number: 10080}}},
	}
	return cfg
}

// statusScript makes the portal stumble: faulty in tick 3, down in tick
// 4, recovering in tick 5.
func statusScript(tick int32, _, service int) scoreboard.Status {
	if service != portal {
		return scoreboard.StatusOK
	}
	switch tick {
	case 3:
		return scoreboard.StatusMumble
	case 4:
		return scoreboard.StatusOffline
	case 5:
		return scoreboard.StatusRecovering
	}
	return scoreboard.StatusOK
}

// fakeRange reports a healthy local range, the teams' gateways and the
// replicas' consoles.
type fakeRange struct{ cfg *scoreboard.Config }

func (r fakeRange) Health(context.Context) (cyberrange.Health, error) {
	h := cyberrange.Report{Exercise: r.cfg.Name, Driver: "local", Healthy: true, Networks: []cyberrange.NetworkReport{}}
	for i, s := range r.cfg.Services {
		h.Containers = append(h.Containers, cyberrange.ContainerReport{Name: fmt.Sprintf("tiengiang-thu-target-%d", i),
			Kind: cyberrange.KindTarget, Team: defenceName, Service: s.Name, State: cyberrange.StateRunning})
	}
	for i := range attackTeams[:3] {
		h.Containers = append(h.Containers, cyberrange.ContainerReport{Name: fmt.Sprintf("tiengiang-thu-gateway-%d", i+1),
			Kind: cyberrange.KindGateway, Team: attackTeams[i], State: cyberrange.StateRunning})
	}
	h.Running, h.Total = len(h.Containers), len(h.Containers)
	return cyberrange.Health{Driver: h.Driver, Report: &h}, nil
}

func (r fakeRange) Gateway(_ context.Context, team int) (any, error) {
	return map[string]string{"container": fmt.Sprintf("tiengiang-thu-gateway-%d", team+1), "user": r.cfg.Teams[team].Name,
		"socks5": fmt.Sprintf("127.0.0.1:%d", 11081+team), "source": r.cfg.Teams[team].Network}, nil
}

func (r fakeRange) ConsoleURL(_ context.Context, _, service int) (string, error) {
	return fmt.Sprintf("http://127.0.20.%d:18025/", 10+service), nil
}

// server is the whole HTTP front of one exercise, in-process.
type server struct {
	t    testing.TB
	cfg  *scoreboard.Config
	game *scoreboard.Game
	toks *tokens.Set
	log  *scoreboardtest.MemLog
	hub  *live.Hub
	url  string

	mu     sync.Mutex
	hijack []net.Conn // the websockets, which a test may cut
}

// serverOpt changes the scenario before the game starts, or the web
// server's options before it is built; either may be nil.
type serverOpt struct {
	cfg func(*scoreboard.Config)
	web func(*web.Options)
}

func withLocale(l string) serverOpt {
	return serverOpt{cfg: func(c *scoreboard.Config) { c.Locale = l }}
}

// withoutDetections leaves detection reports out, as a server without
// them answers: 501.
func withoutDetections() serverOpt {
	return serverOpt{web: func(o *web.Options) { o.Detections = nil }}
}

func withRequireTelemetry() serverOpt {
	return serverOpt{cfg: func(c *scoreboard.Config) { c.RequireTelemetry = true }}
}

func newServer(t testing.TB, opts ...serverOpt) *server {
	t.Helper()
	cfg := testConfig()
	for _, o := range opts {
		if o.cfg != nil {
			o.cfg(cfg)
		}
	}
	s := &server{t: t, cfg: cfg, log: &scoreboardtest.MemLog{}}
	ctx, cancel := context.WithCancel(context.Background())
	g, err := scoreboard.NewGame(ctx, scoreboard.Options{Config: cfg, Log: s.log, Key: []byte("khoá của cuộc diễn tập thử nghiệm"),
		Checker: scoreboardtest.Checker{Status: statusScript}})
	if err != nil {
		t.Fatal(err)
	}
	toks, err := tokens.New(cfg.Teams)
	if err != nil {
		t.Fatal(err)
	}
	s.game, s.toks = g, toks
	hub := live.NewHub(live.Options{Source: g})
	s.hub = hub
	hubDone := make(chan error, 1)
	go func() { hubDone <- hub.Run(ctx) }()
	flags := submit.NewHTTPHandler(submit.HTTPOptions{Judge: g, Auth: toks})
	o := web.Options{Game: g, Auth: toks, Live: hub, Flags: flags, Range: fakeRange{cfg}, Events: s.log,
		Detections: g.Detections(), Logger: slog.New(slog.DiscardHandler)}
	for _, f := range opts {
		if f.web != nil {
			f.web(&o)
		}
	}
	srv := web.New(o)
	hs := httptest.NewUnstartedServer(srv.Handler())
	hs.Config.ConnState = func(c net.Conn, st http.ConnState) {
		if st == http.StateHijacked {
			s.mu.Lock()
			s.hijack = append(s.hijack, c)
			s.mu.Unlock()
		}
	}
	hs.Start()
	s.url = hs.URL
	t.Cleanup(func() {
		cancel()
		<-hubDone
		g.WaitChecks()
		hs.Close()
		hs.Client().CloseIdleConnections()
	})
	return s
}

// cutStreams closes every websocket the server has, as a network failure
// would.
func (s *server) cutStreams() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.hijack)
	for _, c := range s.hijack {
		_ = c.Close()
	}
	s.hijack = nil
	return n
}

func (s *server) act(action string) {
	s.t.Helper()
	if err := s.game.Act(context.Background(), action); err != nil {
		s.t.Fatal(err)
	}
}

func (s *server) tick() {
	s.t.Helper()
	if err := s.game.StartTick(context.Background()); err != nil {
		s.t.Fatal(err)
	}
	s.game.WaitChecks()
}

// flag returns the current flag of the defence team's store of service.
func (s *server) flag(service int, store string) string {
	s.t.Helper()
	flags, err := s.game.IssuedFlags(0)
	if err != nil {
		s.t.Fatal(err)
	}
	for _, f := range flags {
		if f.Service == s.cfg.Services[service].Name && f.Store == store {
			return f.Flag
		}
	}
	s.t.Fatalf("no flag of %s/%s", s.cfg.Services[service].Name, store)
	return ""
}

// capture makes team reach the service through its gateway (telemetry)
// and submit the current flag of a store, and checks it was accepted.
func (s *server) capture(team, service int, store string) {
	s.t.Helper()
	now := time.Now()
	s.game.ObserveConns([]scoreboard.Conn{{Team: team, Owner: defenceTeam(), Service: service,
		Start: now.Add(-20 * time.Second), End: now, BytesUp: 1800, BytesDown: 52000}})
	s.submit(team, service, store)
}

// submit makes team submit the current flag of a store, with no
// connection seen (a shared flag), and checks it was accepted.
func (s *server) submit(team, service int, store string) {
	s.t.Helper()
	v, err := s.game.Submit(context.Background(), team, [][]byte{[]byte(s.flag(service, store))})
	if err != nil || v[0].Code != scoreboard.CodeOK {
		s.t.Fatalf("capture by %s of %s/%s: %v %+v", attackTeams[team], s.cfg.Services[service].Name, store, err, v)
	}
}

// play runs a few ticks with captures spread over the teams, so that
// every page has something to show: ranks, first bloods, a service going
// down and up.
func (s *server) play(ticks int) {
	s.t.Helper()
	s.act(scoreboard.ActStart)
	plan := [][]struct {
		team, service int
		store         string
	}{
		{{0, mail, "inbox"}, {2, mail, "inbox"}, {5, portal, "news"}},
		{{2, mail, "drafts"}, {0, mail, "inbox"}, {1, mail, "inbox"}, {2, portal, "news"}},
		{{3, mail, "attachments"}, {2, mail, "inbox"}, {6, mail, "inbox"}},
		{{1, mail, "drafts"}, {0, mail, "drafts"}, {2, mail, "attachments"}, {4, mail, "inbox"}},
		{{7, mail, "inbox"}, {2, mail, "inbox"}, {1, mail, "inbox"}, {3, portal, "news"}},
		{{0, mail, "attachments"}, {5, mail, "drafts"}, {2, mail, "drafts"}},
	}
	for i := range ticks {
		s.tick()
		if i < len(plan) {
			for _, c := range plan[i] {
				if statusScript(int32(i+1), defenceTeam(), c.service) == scoreboard.StatusOffline {
					continue // nothing was planted
				}
				s.capture(c.team, c.service, c.store)
			}
		}
	}
}

func (s *server) teamToken(team int) string { return s.toks.TeamToken(team) }
