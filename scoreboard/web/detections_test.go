package web

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cyrange/cyrange/scoreboard"
)

// TestDetectionsWithTheGame drives PROTOCOLS.md §7 against the game's own
// detection desk: field errors, the durable acknowledgement, the verdict
// once the tick's telemetry is in, and the list.
func TestDetectionsWithTheGame(t *testing.T) {
	fx := newFixture(t, func(o *Options) { o.Detections = o.Game.(*scoreboard.Game).Detections() })
	def := cred{header: fx.teamToken(teamDef)}
	report := func(body string) (int, string) {
		w := fx.do(http.MethodPost, "/api/v1/detections", body, def)
		return w.Code, w.Body.String()
	}
	seen := testStart.Format(time.RFC3339)
	if code, body := report(`{"attacker":"Đội Hà Nội","service":"mail","seenAt":"` + seen + `"}`); code != 409 ||
		!strings.Contains(body, "game not started") {
		t.Fatalf("before the start: %d %s", code, body)
	}
	fx.play()
	// Team Hà Nội (127.0.10.0/24) attacks the defence's mail server.
	fx.game.ObserveConns([]scoreboard.Conn{{Team: teamHaNoi, Owner: teamDef, Service: 0,
		Start: fx.clock().Add(time.Second), End: fx.clock().Add(3 * time.Second), BytesUp: 100, BytesDown: 900}})
	fx.advance(20 * time.Second)
	for _, tc := range []struct {
		body   string
		status int
		want   string
	}{
		{`{"attacker":"127.0.10.7:40112","service":"mail","seenAt":"` + seen + `","technique":"T1110","store":"inbox"}`, 201, `{"id":1,"verdict":"pending"}`},
		{`{"attacker":"Đội Đà Nẵng","service":"mail","seenAt":"` + seen + `"}`, 201, `{"id":2,"verdict":"pending"}`},
		{`{"attacker":"Đội Hà Nội","service":"web","seenAt":"` + seen + `"}`, 400, `field \"service\": unknown service \"web\"`},
		{`{"attacker":"Đội Hà Nội","service":"mail","seenAt":"` + seen + `","store":"outbox"}`, 400, `field \"store\"`},
		{`{"attacker":"Đội Hà Nội","service":"mail","seenAt":"08:00"}`, 400, `field \"seenAt\"`},
		{`{"attacker":"Đội Hà Nội","service":"mail","seenAt":"` + seen + `","technique":"brute force"}`, 400, `field \"technique\"`},
		{`{"attacker":"Đội Hà Nội","service":"mail","seenAt":"` + seen + `","extra":1}`, 400, `unknown field \"extra\"`},
		{`{"attacker":"nobody","service":"mail","seenAt":"` + seen + `"}`, 400, `field \"attacker\"`},
		{`{"attacker":"Đội Phòng thủ Tỉnh","service":"mail","seenAt":"` + seen + `"}`, 400, `field \"attacker\"`},
	} {
		if code, body := report(tc.body); code != tc.status || !strings.Contains(body, tc.want) {
			t.Errorf("%.70s: %d %s, want %d with %s", tc.body, code, body, tc.status, tc.want)
		}
	}
	// An attack team may not report; the both team may, on its own replica.
	if w := fx.do(http.MethodPost, "/api/v1/detections", `{}`, cred{header: fx.teamToken(teamHaNoi)}); w.Code != 403 {
		t.Errorf("attack team: %d %s", w.Code, w.Body)
	}

	fx.nextTick() // the tick's telemetry arrives, the reports are judged
	var list []scoreboard.DetectionView
	fx.getJSON("/api/v1/detections", def, &list)
	if len(list) != 2 {
		t.Fatalf("list %+v", list)
	}
	// 20 s after the first connection... minus the one second it began
	// late: t = 19 s, w = 1, L×tick = 300 s; the store was captured by
	// Hà Nội in play().
	want := 5 + 5*(1-19.0/300) + 2
	tp, fp := list[0], list[1]
	if tp.Verdict != "true_positive" || fmt.Sprintf("%.9f", tp.Points) != fmt.Sprintf("%.9f", want) ||
		tp.AttackerTeam != "Đội Hà Nội" || tp.Attacker != "127.0.10.7:40112" || tp.Technique != "T1110" ||
		tp.Breakdown == nil || tp.Breakdown.Store != 2 || tp.TimeToDetect == nil || *tp.TimeToDetect != 19 {
		t.Errorf("true positive %+v", tp)
	}
	if fp.Verdict != "false_positive" || fp.Points != -2.5 || fp.JudgedAt == nil {
		t.Errorf("false positive %+v", fp)
	}
	var me meBody
	fx.getJSON("/api/v1/me", def, &me)
	if me.Standing == nil || me.Standing.DetectionsTrue != 1 || me.Standing.DetectionsFalse != 1 || me.Standing.Incidents != 1 {
		t.Errorf("/me scorecard %+v", me.Standing)
	}
	// Another defending team sees none of it.
	var other []scoreboard.DetectionView
	fx.getJSON("/api/v1/detections", cred{header: fx.teamToken(teamCanTho)}, &other)
	if len(other) != 0 {
		t.Errorf("team Cần Thơ sees %+v", other)
	}
}
