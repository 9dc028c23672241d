package browser

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/cyrange/cyrange/internal/browsertest"
	"github.com/cyrange/cyrange/scoreboard"
)

type viewport struct {
	name          string
	width, height int64
}

var viewports = []viewport{{"desktop", 1920, 1080}, {"phone", 390, 844}}

// TestScreenshots saves every page at desktop and phone sizes to the
// test output folder, and with -update-docs the README's copies.
func TestScreenshots(t *testing.T) {
	srv := newServer(t)
	srv.play(6)
	// Two detection reports: one the telemetry confirms, one it does not.
	now := time.Now()
	for _, in := range []scoreboard.DetectionInput{
		{Attacker: attackTeams[2], Service: "mail", SeenAt: now.Add(-time.Minute), Technique: "T1110", Store: "inbox"},
		{Attacker: attackTeams[7], Service: "portal", SeenAt: now, Technique: "T1190"},
	} {
		if _, err := srv.game.ReportDetection(context.Background(), defenceTeam(), in); err != nil {
			t.Fatal(err)
		}
	}
	srv.tick()
	out := browsertest.OutDir(t)
	type shot struct {
		name  string
		open  func(tb *tab)
		full  bool    // the whole page, not only the viewport
		docs  string  // file name under docs/, if any
		scale float64 // of the docs copy
	}
	live := func(path string) func(tb *tab) {
		return func(tb *tab) {
			tb.Open(srv.url + path)
			tb.waitLive(10 * time.Second)
			tb.WaitJS("the standings", `!!document.querySelector('#boards tr[data-team]')`, 3*time.Second)
		}
	}
	login := func(path, token, ready string) func(tb *tab) {
		return func(tb *tab) {
			tb.login(srv.url+path, token)
			tb.WaitJS("the page", ready, 5*time.Second)
			tb.waitLive(10 * time.Second)
		}
	}
	// Each war room picture gets its own capture in flight.
	arcs := []struct {
		team  int
		store string
	}{{6, "attachments"}, {7, "drafts"}}
	shots := []shot{
		{name: "scoreboard", open: live("/"), docs: "scoreboard.png", scale: 2.0 / 3},
		{name: "war-room", open: func(tb *tab) {
			live("/war.html")(tb)
			// An arc in flight: a capture just before the picture.
			time.Sleep(300 * time.Millisecond)
			a := arcs[0]
			arcs = arcs[1:]
			v, err := srv.game.Submit(context.Background(), a.team, [][]byte{[]byte(srv.flag(mail, a.store))})
			if err != nil || v[0].Code != scoreboard.CodeOK {
				tb.T.Fatalf("capture for the picture: %v %+v", err, v)
			}
			time.Sleep(700 * time.Millisecond)
		}, docs: "war-room.png", scale: 2.0 / 3},
		{name: "scoring", open: func(tb *tab) {
			tb.Open(srv.url + "/scoring.html")
			tb.WaitJS("the formulas", `document.querySelectorAll('.formula').length > 5`, 3*time.Second)
		}, full: true, docs: "scoring.png", scale: 2.0 / 3},
		{name: "team-attack", open: login("/team.html", srv.teamToken(2), `document.querySelectorAll('#targets tr').length > 1`),
			full: true, docs: "team-attack.png", scale: 2.0 / 3},
		{name: "team-defence", open: func(tb *tab) {
			login("/team.html", srv.teamToken(defenceTeam()), `document.querySelectorAll('#services .svc-card').length === 2 && document.querySelector('#verdicts').textContent !== ''`)(tb)
			now := time.Now()
			for i, l := range []struct{ svc, src, text string }{
				{"mail", "127.0.13.5", "IMAP LOGIN failed user=vanthu@tiengiang.gov.vn"},
				{"mail", "127.0.13.5", "IMAP LOGIN failed user=ketoan@tiengiang.gov.vn"},
				{"mail", "127.0.16.2", "SMTP VRFY giamdoc 252"},
				{"portal", "127.0.16.2", "GET /tin-tuc?id=1%27%20OR%201=1 500"},
				{"mail", "127.0.11.9", "HTTP GET /webmail/message?id=4412 200 (mailbox of another user)"},
			} {
				srv.hub.PublishLog(defenceTeam(), scoreboard.TickerItem{Time: now.Add(time.Duration(i-5) * time.Second), Service: l.svc, Source: l.src, Text: l.text})
			}
			tb.WaitJS("the log lines", `document.querySelectorAll('#logs tbody tr').length === 5`, 3*time.Second)
		}, full: true, docs: "team-defence.png", scale: 2.0 / 3},
		{name: "organizer", open: login("/admin.html", srv.toks.OrganizerToken(), `document.querySelectorAll('#tokens-table tr').length > 1 && document.getElementById('range').textContent !== ''`),
			full: true, docs: "organizer.png", scale: 2.0 / 3},
	}
	for _, sh := range shots {
		for _, vp := range viewports {
			t.Run(sh.name+"/"+vp.name, func(t *testing.T) {
				tb := newTab(t, vp.width, vp.height)
				sh.open(tb)
				// Let entrance animations settle.
				time.Sleep(150 * time.Millisecond)
				full := sh.full || vp.name == "phone"
				browsertest.Save(t, out, fmt.Sprintf("%s-%s.png", sh.name, vp.name), tb.Screenshot(full, 1))
				switch {
				case !browsertest.UpdatingDocs():
				case vp.name == "desktop" && sh.docs != "":
					browsertest.SaveDoc(t, sh.docs, tb.Screenshot(false, sh.scale))
				case vp.name == "phone" && sh.name == "scoreboard":
					browsertest.SaveDoc(t, "scoreboard-phone.png", tb.Screenshot(false, 1))
				}
			})
		}
	}
	t.Logf("screenshots in %s", out)
}
