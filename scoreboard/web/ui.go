package web

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/scoreboard"
)

// scoringBody is what the "How scoring works" page fills SCORING.md's
// formulas with: the running scenario's constants, nothing secret.
type scoringBody struct {
	Name             string                   `json:"name"`
	Title            string                   `json:"title"`
	Locale           string                   `json:"locale"`
	TickSeconds      float64                  `json:"tickSeconds"`
	FlagLifetime     int                      `json:"flagLifetime"`
	GetflagDepth     int                      `json:"getflagDepth"`
	DurationSeconds  float64                  `json:"durationSeconds"`
	FreezeAtSeconds  float64                  `json:"freezeAtSeconds"`
	Attackers        int                      `json:"attackers"`
	Defenders        int                      `json:"defenders"`
	RequireTelemetry bool                     `json:"requireTelemetry"`
	FlagFormat       string                   `json:"flagFormat"`
	Scoring          scoreboard.Scoring       `json:"scoring"`
	Services         []scoreboard.ServiceInfo `json:"services"`
}

// defaultLocale is the UI's language when the scenario names none: the
// exercises this is built for are Vietnamese.
const defaultLocale = "vi"

func (s *Server) scoring(c echo.Context) error {
	cfg := s.game.Config()
	b := scoringBody{Name: cfg.Name, Title: cfg.Title, Locale: cfg.Locale,
		TickSeconds: cfg.Tick.Seconds(), FlagLifetime: cfg.FlagLifetime, GetflagDepth: cfg.GetflagDepth,
		DurationSeconds: cfg.Duration.Seconds(), FreezeAtSeconds: cfg.FreezeAt.Seconds(),
		RequireTelemetry: cfg.RequireTelemetry, Scoring: cfg.Scoring, Services: []scoreboard.ServiceInfo{},
		FlagFormat: fmt.Sprintf("%s[A-Z0-9]{%d}=", cfg.FlagPrefix, scoreboard.FlagLen-1-len(cfg.FlagPrefix))}
	if b.Locale == "" {
		b.Locale = defaultLocale
	}
	for _, t := range cfg.Teams {
		if t.Role.Attacks() {
			b.Attackers++
		}
		if t.Role.Defends() {
			b.Defenders++
		}
	}
	for _, sv := range cfg.Services {
		b.Services = append(b.Services, scoreboard.ServiceInfo{Name: sv.Name, Title: sv.Title, Weight: sv.Weight, Stores: sv.Stores})
	}
	return c.JSON(http.StatusOK, b)
}

func (s *Server) noEvents() error {
	return errorf(http.StatusNotImplemented, "the event log is not available on this server")
}

// history answers the public board's past: every team's total at each
// tick and the recent status of every replica, cut at the freeze.
func (s *Server) history(c echo.Context) error {
	if s.hist == nil {
		return s.noEvents()
	}
	b, err := s.hist.publicJSON(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSONBlob(http.StatusOK, b)
}

// replicaLine is one of the calling team's own replicas.
type replicaLine struct {
	Service string            `json:"service"`
	Title   string            `json:"title,omitempty"`
	Address string            `json:"address"`
	Status  scoreboard.Status `json:"status"`
	// History is the statuses of the last ticks, oldest first; empty
	// when the server has no event log.
	History []scoreboard.TickStatus `json:"history"`
	// Console is the replica's admin console, when the range knows it.
	Console string `json:"console,omitempty"`
	// Proxy is where the team's browser opens that console through this
	// server and its defence gateway, when the range offers that.
	Proxy string `json:"proxy,omitempty"`
	// ViaGateway is the console's URL as the defence gateway resolves
	// it, for the team's own tools.
	ViaGateway string `json:"viaGateway,omitempty"`
	// Operator is the console's operator login.
	Operator *operatorLogin `json:"operator,omitempty"`
	// Gateway is the team's defence gateway, the same on every line, as
	// /api/v1/targets shows an attack team's: the answer stays a list.
	Gateway any `json:"gateway,omitempty"`
}

type operatorLogin struct {
	User     string `json:"user"`
	Password string `json:"password"`
}

// teamReplicas tells a defending team what it defends: where, how it
// fares, where its admin console is and how to reach it. The checker's
// messages stay out: they may quote what the checker planted.
func (s *Server) teamReplicas(c echo.Context) error {
	team := callerOf(c).p.Team
	cfg := s.game.Config()
	ctx := c.Request().Context()
	status := s.game.FullView().Status[cfg.Teams[team].Name]
	acs, proxied := s.rng.(AdminConsoles)
	var gateway any
	if proxied {
		gateway = s.defenceGateway(ctx, acs, team)
	}
	out := []replicaLine{}
	for _, r := range cfg.Replicas {
		if r.Owner != team {
			continue
		}
		svc := cfg.Services[r.Service]
		l := replicaLine{Service: svc.Name, Title: svc.Title, Address: r.Address, Status: status[svc.Name],
			History: []scoreboard.TickStatus{}}
		if s.hist != nil {
			h, err := s.hist.replicaHistory(ctx, r.Owner, r.Service)
			if err != nil {
				return err
			}
			l.History = h
		}
		if cs, ok := s.rng.(Consoles); ok {
			url, err := s.consoleURL(ctx, cs, r.Owner, r.Service)
			if err != nil {
				// The rest of the answer is worth having without it.
				s.logger.Warn("console address unavailable", "team", cfg.Teams[team].Name, "service", svc.Name, "err", err)
			}
			l.Console = url
		}
		if proxied {
			s.proxyLine(ctx, acs, team, r.Service, &l)
			l.Gateway = gateway
		}
		out = append(out, l)
	}
	return c.JSON(http.StatusOK, out)
}

// defenceGateway returns team's defence gateway, or nil when it has none
// or the range cannot say: the rest of the answer is worth having
// without it.
func (s *Server) defenceGateway(ctx context.Context, acs AdminConsoles, team int) any {
	ctx, cancel := context.WithTimeout(ctx, rangeTimeout)
	defer cancel()
	gw, err := acs.DefenceGateway(ctx, team)
	if err != nil {
		if !errors.Is(err, cyberrange.ErrNotFound) {
			s.logger.Warn("defence gateway unavailable", "team", s.game.Config().Teams[team].Name, "err", err)
		}
		return nil
	}
	return gw
}

// proxyLine fills l's proxied console and operator login, when team's
// replica of service has a console the range can reach.
func (s *Server) proxyLine(ctx context.Context, acs AdminConsoles, team, service int, l *replicaLine) {
	ctx, cancel := context.WithTimeout(ctx, rangeTimeout)
	defer cancel()
	ac, err := acs.AdminConsole(ctx, team, service)
	if err != nil {
		if !errors.Is(err, cyberrange.ErrNotFound) {
			s.logger.Warn("admin console unavailable", "team", s.game.Config().Teams[team].Name, "service", l.Service, "err", err)
		}
		return
	}
	if ac.URL == "" || ac.Dial == nil {
		return
	}
	l.Proxy, l.ViaGateway = consolePath(l.Service), ac.URL
	if ac.User != "" || ac.Password != "" {
		l.Operator = &operatorLogin{User: ac.User, Password: ac.Password}
	}
}

func (s *Server) consoleURL(ctx context.Context, cs Consoles, owner, service int) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, rangeTimeout)
	defer cancel()
	return cs.ConsoleURL(ctx, owner, service)
}

// adminSuspects lists the captures suspected of flag sharing: with
// require_telemetry, those the gateways saw no connection for.
func (s *Server) adminSuspects(c echo.Context) error {
	return c.JSON(http.StatusOK, s.game.Suspects())
}

// adminExport exports the organizer's (never frozen) standings as CSV,
// JSON or the CTFtime feed.
func (s *Server) adminExport(c echo.Context) error {
	format := c.QueryParam("format")
	if format == "" {
		format = "csv"
	}
	cfg := s.game.Config()
	st := s.game.FullView().Standings
	h := c.Response().Header()
	switch format {
	case "json":
		h.Set("Content-Disposition", attachment(cfg.Name, "standings.json"))
		return c.JSON(http.StatusOK, map[string]any{"exercise": cfg.Name, "standings": st})
	case "ctftime":
		h.Set("Content-Disposition", attachment(cfg.Name, "ctftime.json"))
		return c.JSON(http.StatusOK, scoreboard.CTFtime(st))
	case "csv":
	default:
		return errorf(http.StatusBadRequest, "format must be csv, json or ctftime, got %q", format)
	}
	h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	h.Set("Content-Disposition", attachment(cfg.Name, "standings.csv"))
	c.Response().WriteHeader(http.StatusOK)
	// The same columns as `cyrange export --format csv`, so that a sheet
	// made from either reads alike.
	return s.wrote(scoreboard.WriteStandingsCSV(c.Response(), st))
}

// wrote ends a handler whose response has begun: a failed write can no
// longer become an error response, and a client going away is not ours to
// log loudly.
func (s *Server) wrote(err error) error {
	if err != nil {
		s.logger.Debug("response cut short", "err", err)
	}
	return nil
}

// unsafeFileChars are the characters a download's file name leaves out.
var unsafeFileChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// attachment names a download after the exercise.
func attachment(exercise, what string) string {
	name := unsafeFileChars.ReplaceAllString(exercise, "-")
	if name == "" || name == "-" {
		name = "cyrange"
	}
	return fmt.Sprintf(`attachment; filename="%s-%s"`, name, what)
}

// adminTeamsCSV is the tokens sheet the organizer hands out: one line per
// team. The organizer's own token is not on it.
func (s *Server) adminTeamsCSV(c echo.Context) error {
	f := s.auth.File()
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	h.Set("Content-Disposition", attachment(s.game.Config().Name, "tokens.csv"))
	c.Response().WriteHeader(http.StatusOK)
	cw := csv.NewWriter(c.Response())
	_ = cw.Write([]string{"team", "role", "token"})
	for _, t := range f.Teams {
		_ = cw.Write([]string{t.Name, string(t.Role), t.Token})
	}
	cw.Flush()
	return s.wrote(cw.Error())
}

// eventLine is one decoded event of the log. Names are given only where
// the event's kind uses the field, so a zero that means "none" is not
// read as team or service 0.
type eventLine struct {
	Seq      uint64    `json:"seq"`
	Time     time.Time `json:"time"`
	Kind     string    `json:"kind"`
	Code     uint8     `json:"code"`
	Tick     int32     `json:"tick"`
	FlagTick int32     `json:"flagTick,omitempty"`
	Team     string    `json:"team,omitempty"`
	Owner    string    `json:"owner,omitempty"`
	Service  string    `json:"service,omitempty"`
	Store    string    `json:"store,omitempty"`
	Value    int64     `json:"value"`
	Text     string    `json:"text,omitempty"`
}

// eventFields says which of team, owner, service and store each kind
// uses (scoreboard/event.go).
var eventFields = map[scoreboard.Kind][4]bool{
	scoreboard.KindFlagIssued:        {false, true, true, true},
	scoreboard.KindCheckResult:       {false, true, true, false},
	scoreboard.KindFlagCaptured:      {true, true, true, true},
	scoreboard.KindDetectionReported: {true, false, true, true},
	scoreboard.KindDetectionJudged:   {true, false, true, false},
	scoreboard.KindTelemetrySummary:  {true, true, true, false},
	scoreboard.KindRemedyApplied:     {false, true, true, false},
}

func decodedEvent(cfg *scoreboard.Config, e *scoreboard.Event) eventLine {
	l := eventLine{Seq: e.Seq, Time: e.Time, Kind: e.Kind.String(), Code: e.Code, Tick: e.Tick, FlagTick: e.FlagTick,
		Value: e.Value, Text: e.Text}
	uses := eventFields[e.Kind]
	team := func(i int16) string {
		if i >= 0 && int(i) < len(cfg.Teams) {
			return cfg.Teams[i].Name
		}
		return ""
	}
	if uses[0] {
		l.Team = team(e.Team)
	}
	if uses[1] {
		l.Owner = team(e.Owner)
	}
	if uses[2] && e.Service >= 0 && int(e.Service) < len(cfg.Services) {
		svc := cfg.Services[e.Service]
		l.Service = svc.Name
		if uses[3] && e.Store >= 0 && int(e.Store) < len(svc.Stores) {
			l.Store = svc.Stores[e.Store]
		}
	}
	return l
}

// adminEvents streams the event log as JSON lines, from ?from= (default
// the first event). The body is written as the log is read, so a long log
// never sits in memory.
func (s *Server) adminEvents(c echo.Context) error {
	if s.events == nil {
		return s.noEvents()
	}
	from := uint64(1)
	if q := c.QueryParam("from"); q != "" {
		n, err := strconv.ParseUint(q, 10, 64)
		if err != nil || n == 0 {
			return errorf(http.StatusBadRequest, "from must be an event sequence number (1 or more), got %q", q)
		}
		from = n
	}
	cfg := s.game.Config()
	res := c.Response()
	res.Header().Set(echo.HeaderContentType, "application/x-ndjson")
	res.Header().Set("Content-Disposition", attachment(cfg.Name, "events.jsonl"))
	// A long log takes longer than the server's WriteTimeout to send:
	// each write gets the whole timeout instead.
	bw := bufio.NewWriterSize(deadlineWriter{w: res, rc: http.NewResponseController(res), d: s.limits.WriteTimeout}, 32<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	started := false
	err := s.events.Iterate(c.Request().Context(), from, func(seq uint64, rec []byte) error {
		e, err := scoreboard.Decode(seq, rec)
		if err != nil {
			return err
		}
		if !started {
			res.WriteHeader(http.StatusOK)
			started = true
		}
		return enc.Encode(decodedEvent(cfg, &e))
	})
	if !started {
		if err != nil {
			return fmt.Errorf("web: reading the event log: %w", err)
		}
		res.WriteHeader(http.StatusOK)
	}
	if err != nil {
		// Too late for an error response: the client gets a body cut
		// short, and the reason is ours to look into.
		s.logger.Error("event log export cut short", "err", err)
		return nil
	}
	return s.wrote(bw.Flush())
}

// deadlineWriter moves the connection's write deadline along before each
// write, so that the server's WriteTimeout bounds every write of a long
// response rather than the whole of it: a stalled client is still let go.
type deadlineWriter struct {
	w  io.Writer
	rc *http.ResponseController
	d  time.Duration
}

func (d deadlineWriter) Write(p []byte) (int, error) {
	// Network deadlines run on the real clock, whatever the game's.
	_ = d.rc.SetWriteDeadline(time.Now().Add(d.d))
	return d.w.Write(p)
}
