package web

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"math"
	"net/http"
	"strings"
	"testing"

	"github.com/cyrange/cyrange/scoreboard"
)

// nextTick advances the clock by a tick and runs the next tick's checks.
func (fx *fixture) nextTick() {
	fx.t.Helper()
	fx.advance(fx.cfg.Tick)
	if err := fx.game.StartTick(context.Background()); err != nil {
		fx.t.Fatal(err)
	}
	fx.game.WaitChecks()
}

func (fx *fixture) getJSON(path string, c cred, v any) {
	fx.t.Helper()
	w := fx.do(http.MethodGet, path, "", c)
	if w.Code != http.StatusOK {
		fx.t.Fatalf("GET %s: %d %s", path, w.Code, w.Body)
	}
	if err := json.Unmarshal(w.Body.Bytes(), v); err != nil {
		fx.t.Fatalf("GET %s: %v\n%s", path, err, w.Body)
	}
}

// TestUIRoutes pins the routes the web UI relies on beyond PROTOCOLS.md.
func TestUIRoutes(t *testing.T) {
	fx := newFixture(t)
	have := map[string]role{}
	for _, rt := range fx.srv.routes() {
		have[rt.method+" "+rt.path] = rt.roles
	}
	for route, want := range map[string]role{
		"GET /api/v1/scoring":        everyone,
		"GET /api/v1/history":        everyone,
		"GET /api/v1/team/replicas":  defenders,
		"GET /api/v1/admin/export":   organizer,
		"GET /api/v1/admin/suspects": organizer,
		"GET /api/v1/admin/events":   organizer,

		"GET /console/replicas/:service":    defenders,
		"GET /console/replicas/:service/*":  defenders,
		"HEAD /console/replicas/:service/*": defenders,
		"POST /console/replicas/:service/*": defenders,
	} {
		if got, ok := have[route]; !ok || got != want {
			t.Errorf("route %s admits %v (declared %v), want %v", route, got, ok, want)
		}
	}
}

func TestUIGoldenResponses(t *testing.T) {
	fx := newFixture(t)
	fx.play()
	fx.nextTick()
	fx.capture(teamDaNang, teamDef, "draft")
	org := cred{bearer: fx.toks.OrganizerToken()}
	for _, tc := range []struct {
		name, path string
		c          cred
	}{
		{"scoring", "/api/v1/scoring", cred{}},
		{"history", "/api/v1/history", cred{}},
		{"team_replicas_both", "/api/v1/team/replicas", cred{header: fx.teamToken(teamCanTho)}},
		{"team_replicas_defence", "/api/v1/team/replicas", cred{header: fx.teamToken(teamDef)}},
		{"admin_export_json", "/api/v1/admin/export?format=json", org},
		{"admin_export_ctftime", "/api/v1/admin/export?format=ctftime", org},
		{"admin_suspects", "/api/v1/admin/suspects", org},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := fx.do(http.MethodGet, tc.path, "", tc.c)
			if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "application/json") {
				t.Fatalf("%d %q %s", w.Code, w.Header().Get("Content-Type"), w.Body)
			}
			golden(t, tc.name, w.Body.Bytes())
		})
	}
}

func TestScoringConstants(t *testing.T) {
	fx := newFixture(t)
	fx.cfg.Locale = "en"
	var b scoringBody
	fx.getJSON("/api/v1/scoring", cred{}, &b)
	if b.Locale != "en" || b.Attackers != 3 || b.Defenders != 2 || b.TickSeconds != 60 || b.FlagLifetime != 5 ||
		b.Scoring != scoreboard.DefaultScoring() || len(b.Services) != 1 || b.Services[0].Weight != 1 {
		t.Errorf("constants %+v", b)
	}
	if b.FlagFormat != "VN[A-Z0-9]{29}=" {
		t.Errorf("flag format %q", b.FlagFormat)
	}
	fx.cfg.Locale = ""
	fx.getJSON("/api/v1/scoring", cred{}, &b)
	if b.Locale != "vi" {
		t.Errorf("default locale %q, want vi", b.Locale)
	}
}

// TestHistoryFreeze checks that the public history stops at the freeze
// while the game goes on, and shows everything after the end.
func TestHistoryFreeze(t *testing.T) {
	fx := newFixture(t)
	org := cred{bearer: fx.toks.OrganizerToken()}
	var h historyBody
	fx.getJSON("/api/v1/history", cred{}, &h)
	if len(h.Points) != 0 || len(h.Teams) != 4 || h.Frozen {
		t.Fatalf("history before the start: %+v", h)
	}
	fx.play() // tick 1 and three captures
	fx.nextTick()
	fx.capture(teamDaNang, teamDef, "draft")
	fx.getJSON("/api/v1/history", cred{}, &h)
	if len(h.Points) != 2 || h.Points[0].Tick != 1 || h.Points[1].Tick != 2 {
		t.Fatalf("points %+v, want ticks 1 and 2", h.Points)
	}
	// The point of tick 2 is the board when tick 2 began: tick 1's
	// captures are in it, the capture of tick 2 is not.
	view := fx.game.FullView()
	var daNang float64
	for _, s := range view.Standings {
		if s.TeamID == teamDaNang {
			daNang = s.Total
		}
	}
	if got := h.Points[1].Totals[teamDaNang]; got <= 0 || got >= daNang {
		t.Errorf("Đà Nẵng's total at tick 2: %v (now %v)", got, daNang)
	}
	if got := h.Status["Đội Phòng thủ Tỉnh"]["mail"]; len(got) != 2 || got[1] != (scoreboard.TickStatus{Tick: 2, Status: scoreboard.StatusOK}) {
		t.Errorf("status history %+v", got)
	}

	if w := fx.do("POST", "/api/v1/admin/phase", `{"action":"freeze"}`, org); w.Code != 200 {
		t.Fatal(w.Body)
	}
	fx.getJSON("/api/v1/history", cred{}, &h)
	if !h.Frozen || len(h.Points) != 3 || h.Points[2].Totals[teamDaNang] != round3(daNang) {
		t.Fatalf("at the freeze: frozen=%v points %+v, want a last point with the board of the freeze", h.Frozen, h.Points)
	}
	frozen, _ := json.Marshal(h)
	fx.nextTick()
	fx.capture(teamHaNoi, teamCanTho, "inbox")
	fx.nextTick()
	var after historyBody
	fx.getJSON("/api/v1/history", cred{}, &after)
	if got, _ := json.Marshal(after); string(got) != string(frozen) {
		t.Errorf("public history moved during the freeze:\n%s\n%s", frozen, got)
	}
	// A team still sees its own replica's statuses.
	var reps []replicaLine
	fx.getJSON("/api/v1/team/replicas", cred{header: fx.teamToken(teamDef)}, &reps)
	if len(reps) != 1 || len(reps[0].History) != 4 || reps[0].Status != scoreboard.StatusOK {
		t.Errorf("own replicas during the freeze: %+v", reps)
	}

	if w := fx.do("POST", "/api/v1/admin/phase", `{"action":"end"}`, org); w.Code != 200 {
		t.Fatal(w.Body)
	}
	fx.getJSON("/api/v1/history", cred{}, &after)
	if after.Frozen || len(after.Points) != 6 || len(after.Status["Đội Cần Thơ"]["mail"]) != 4 {
		t.Errorf("after the end: frozen=%v %d points %+v", after.Frozen, len(after.Points), after.Status)
	}
	last := after.Points[len(after.Points)-1]
	for _, s := range fx.game.PublicView().Standings {
		if last.Totals[s.TeamID] != round3(s.Total) {
			t.Errorf("final point of %s: %v, board %v", s.Team, last.Totals[s.TeamID], s.Total)
		}
	}
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// TestHistoryMatchesOneFold checks that folding in many small steps gives
// what one fold of the whole log gives.
func TestHistoryMatchesOneFold(t *testing.T) {
	fx := newFixture(t)
	fx.play()
	for range 3 {
		var h historyBody
		fx.getJSON("/api/v1/history", cred{}, &h)
		fx.nextTick()
		fx.capture(teamHaNoi, teamDef, "draft")
	}
	w := fx.do("GET", "/api/v1/history", "", cred{})
	steps := w.Body.Bytes()
	fresh := newHistory(fx.log, fx.cfg)
	once, err := fresh.publicJSON(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if string(once) != string(steps) {
		t.Errorf("incremental fold differs from one fold:\n%s\n%s", steps, once)
	}
}

func TestAdminExportCSV(t *testing.T) {
	fx := newFixture(t)
	fx.play()
	org := cred{bearer: fx.toks.OrganizerToken()}
	for _, path := range []string{"/api/v1/admin/export", "/api/v1/admin/export?format=csv"} {
		w := fx.do("GET", path, "", org)
		if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/csv") ||
			!strings.Contains(w.Header().Get("Content-Disposition"), `filename="thu-nghiem-standings.csv"`) {
			t.Fatalf("%s: %d %v", path, w.Code, w.Header())
		}
		rows, err := csv.NewReader(w.Body).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(rows[0], ",") != "rank,team,role,total,attack,defence,availability_points,protected,lost,detection,captures,first_bloods,flags_lost,flags_protected,availability,"+
			"detections_true,detections_false,detections_duplicate,incidents,detections_missed,mean_time_to_detect" {
			t.Errorf("header %v", rows[0])
		}
		st := fx.game.FullView().Standings
		if len(rows) != len(st)+1 {
			t.Fatalf("%d rows for %d teams", len(rows), len(st))
		}
		for i, s := range st {
			if rows[i+1][1] != s.Team || rows[i+1][2] != string(s.Role) {
				t.Errorf("row %d %v, standing %+v", i+1, rows[i+1], s)
			}
		}
	}
	if w := fx.do("GET", "/api/v1/admin/export?format=xml", "", org); w.Code != 400 || !strings.Contains(w.Body.String(), "csv, json or ctftime") {
		t.Errorf("unknown format: %d %s", w.Code, w.Body)
	}
}

func TestAdminTeamsCSV(t *testing.T) {
	fx := newFixture(t)
	org := cred{bearer: fx.toks.OrganizerToken()}
	w := fx.do("GET", "/api/v1/admin/teams?format=csv", "", org)
	if w.Code != 200 || !strings.Contains(w.Header().Get("Content-Disposition"), "tokens.csv") {
		t.Fatalf("%d %v", w.Code, w.Header())
	}
	rows, err := csv.NewReader(w.Body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 5 || strings.Join(rows[0], ",") != "team,role,token" {
		t.Fatalf("rows %v", rows)
	}
	for i, tm := range fx.cfg.Teams {
		if rows[i+1][0] != tm.Name || rows[i+1][1] != string(tm.Role) || rows[i+1][2] != fx.teamToken(i) {
			t.Errorf("row %v for %s", rows[i+1], tm.Name)
		}
	}
	if strings.Contains(w.Body.String(), fx.toks.OrganizerToken()) {
		t.Error("the teams' sheet holds the organizer's token")
	}
	if w := fx.do("GET", "/api/v1/admin/teams?format=pdf", "", org); w.Code != 400 {
		t.Errorf("unknown format: %d", w.Code)
	}
	if w := fx.do("GET", "/api/v1/admin/teams?format=csv", "", cred{bearer: fx.teamToken(teamHaNoi)}); w.Code != 403 || strings.Contains(w.Body.String(), fx.teamToken(teamDaNang)) {
		t.Errorf("a team read the tokens: %d %s", w.Code, w.Body)
	}
}

func TestAdminEvents(t *testing.T) {
	fx := newFixture(t)
	fx.play()
	org := cred{bearer: fx.toks.OrganizerToken()}
	w := fx.do("GET", "/api/v1/admin/events", "", org)
	if w.Code != 200 || w.Header().Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("%d %v", w.Code, w.Header())
	}
	var lines []eventLine
	sc := bufio.NewScanner(w.Body)
	for sc.Scan() {
		var l eventLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		lines = append(lines, l)
	}
	if len(lines) != fx.log.Len() {
		t.Fatalf("%d lines for %d events", len(lines), fx.log.Len())
	}
	for i, l := range lines {
		if l.Seq != uint64(i+1) {
			t.Errorf("line %d has seq %d", i, l.Seq)
		}
	}
	if l := lines[0]; l.Kind != "phase" || l.Text != "start" || l.Team != "" || l.Service != "" || !l.Time.Equal(testStart) {
		t.Errorf("first event %+v", l)
	}
	var captures []eventLine
	for _, l := range lines {
		if l.Kind == "capture" {
			captures = append(captures, l)
		}
	}
	if len(captures) != 3 || !captures[0].Time.Equal(testStart) || captures[0] != (eventLine{Seq: captures[0].Seq, Time: captures[0].Time, Kind: "capture", Tick: 1,
		FlagTick: 1, Team: "Đội Hà Nội", Owner: "Đội Phòng thủ Tỉnh", Service: "mail", Store: "inbox"}) {
		t.Errorf("captures %+v", captures)
	}

	w = fx.do("GET", "/api/v1/admin/events?from=5", "", org)
	if first, _, _ := strings.Cut(w.Body.String(), "\n"); !strings.HasPrefix(first, `{"seq":5,`) {
		t.Errorf("from=5 starts with %s", first)
	}
	w = fx.do("GET", "/api/v1/admin/events?from=999", "", org)
	if w.Code != 200 || w.Body.Len() != 0 {
		t.Errorf("past the end: %d %q", w.Code, w.Body)
	}
	for _, bad := range []string{"0", "-1", "x"} {
		if w := fx.do("GET", "/api/v1/admin/events?from="+bad, "", org); w.Code != 400 {
			t.Errorf("from=%s: %d", bad, w.Code)
		}
	}
}

func TestWithoutEventLog(t *testing.T) {
	fx := newFixture(t, func(o *Options) { o.Events, o.Range = nil, nil })
	fx.play()
	for _, tc := range []struct {
		path string
		c    cred
	}{
		{"/api/v1/history", cred{}},
		{"/api/v1/admin/events", cred{bearer: fx.toks.OrganizerToken()}},
	} {
		if w := fx.do("GET", tc.path, "", tc.c); w.Code != 501 || !strings.Contains(w.Body.String(), "event log is not available") {
			t.Errorf("%s: %d %s", tc.path, w.Code, w.Body)
		}
	}
	var reps []replicaLine
	fx.getJSON("/api/v1/team/replicas", cred{header: fx.teamToken(teamDef)}, &reps)
	if len(reps) != 1 || reps[0].Status != scoreboard.StatusOK || len(reps[0].History) != 0 || reps[0].Console != "" ||
		reps[0].Address != "127.0.20.3" {
		t.Errorf("replicas without the log or range: %+v", reps)
	}
}

func TestAttachmentNames(t *testing.T) {
	for _, tc := range []struct{ exercise, want string }{
		{"tiengiang-2023", `attachment; filename="tiengiang-2023-x.csv"`},
		{"Diễn tập \"A\"", `attachment; filename="Di-n-t-p-A--x.csv"`},
		{"", `attachment; filename="cyrange-x.csv"`},
		{"ễ", `attachment; filename="cyrange-x.csv"`},
	} {
		if got := attachment(tc.exercise, "x.csv"); got != tc.want {
			t.Errorf("%q: %s, want %s", tc.exercise, got, tc.want)
		}
	}
}

// TestAdminSuspects checks that captures the gateways saw no connection
// for reach the organizer's list, and no one else's.
func TestAdminSuspects(t *testing.T) {
	fx := newFixtureWith(t, func(c *scoreboard.Config) { c.RequireTelemetry = true })
	fx.play() // three captures, no telemetry at all
	fx.capture(teamDaNang, teamDef, "inbox")
	// A capture is judged once its flag's life is over.
	for range fx.cfg.FlagLifetime + 1 {
		fx.nextTick()
	}
	var s scoreboard.Suspects
	fx.getJSON("/api/v1/admin/suspects", cred{bearer: fx.toks.OrganizerToken()}, &s)
	if !s.RequireTelemetry || len(s.Unverified) != 4 || len(s.Clusters) != 1 {
		t.Fatalf("suspects %+v", s)
	}
	c := s.Clusters[0]
	if c.Target != "Đội Phòng thủ Tỉnh" || c.Store != "inbox" || len(c.Teams) != 3 {
		t.Errorf("cluster %+v", c)
	}
	if w := fx.do("GET", "/api/v1/admin/suspects", "", cred{bearer: fx.teamToken(teamHaNoi)}); w.Code != 403 {
		t.Errorf("a team read the suspects: %d", w.Code)
	}
}
