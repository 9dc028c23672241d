package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/cyrange/cyrange/scoreboard"
	"github.com/cyrange/cyrange/static"
)

// captureAll makes every attacking team submit every flag of the current
// tick it may capture.
func (fx *fixture) captureAll() int {
	fx.t.Helper()
	flags, err := fx.game.IssuedFlags(0)
	if err != nil {
		fx.t.Fatal(err)
	}
	n := 0
	for team, tm := range fx.cfg.Teams {
		if !tm.Role.Attacks() {
			continue
		}
		for _, f := range flags {
			if f.Team == tm.Name {
				continue
			}
			v, err := fx.game.Submit(context.Background(), team, [][]byte{[]byte(f.Flag)})
			if err != nil {
				fx.t.Fatal(err)
			}
			if v[0].Code == scoreboard.CodeOK {
				n++
			}
		}
	}
	return n
}

// publicSurfaces returns every answer an anonymous caller can get with a
// GET: the route table's public routes and every static file, with their
// status, headers and body.
func (fx *fixture) publicSurfaces() map[string]string {
	fx.t.Helper()
	paths := map[string]bool{}
	for _, rt := range fx.srv.routes() {
		if rt.roles&roleAnonymous != 0 && rt.method == http.MethodGet && !rt.websocket && rt.path != "/*" {
			paths[rt.path] = true
		}
	}
	err := fs.WalkDir(static.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			paths["/"+p] = true
		}
		return err
	})
	if err != nil {
		fx.t.Fatal(err)
	}
	paths["/"] = true
	out := map[string]string{}
	for p := range paths {
		r := fx.do(http.MethodGet, p, "", cred{})
		var b strings.Builder
		fmt.Fprintf(&b, "%d\n", r.Code)
		keys := make([]string, 0, len(r.Header()))
		for k := range r.Header() {
			keys = append(keys, k)
		}
		// Content-Length, ETag and Last-Modified included.
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "%s: %s\n", k, r.Header()[k])
		}
		b.Write(r.Body.Bytes())
		out[p] = b.String()
	}
	return out
}

// TestFrozenPublicLearnsNothing runs two games alike but for one thing:
// after the freeze, the teams of one capture every flag, tick after tick,
// and those of the other capture nothing. Whatever the public can read —
// every public route, every static file, their headers — must be the same
// in both, through ticks, a pause and a resume, until the end.
func TestFrozenPublicLearnsNothing(t *testing.T) {
	quiet, busy := newFixture(t), newFixture(t)
	both := []*fixture{quiet, busy}
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	step := func(f func(fx *fixture)) {
		t.Helper()
		for _, fx := range both {
			f(fx)
		}
	}
	step(func(fx *fixture) { fx.play(); fx.advance(time.Second); must(fx.game.Act(ctx, scoreboard.ActFreeze)) })
	compare := func(stage string) {
		t.Helper()
		q, b := quiet.publicSurfaces(), busy.publicSurfaces()
		for p := range q {
			if q[p] != b[p] {
				t.Errorf("%s: %s tells the public about captures after the freeze:\n%s\n---- with captures:\n%s", stage, p, q[p], b[p])
			}
		}
	}
	compare("frozen")
	captured := 0
	for tick := 0; tick < 6; tick++ {
		step(func(fx *fixture) {
			fx.advance(time.Minute)
			must(fx.game.StartTick(ctx))
			fx.game.WaitChecks()
		})
		captured += busy.captureAll()
		compare(fmt.Sprintf("tick %d", tick+2))
	}
	if captured < 50 {
		t.Fatalf("only %d captures after the freeze", captured)
	}
	step(func(fx *fixture) { fx.advance(time.Second); must(fx.game.Act(ctx, scoreboard.ActPause)) })
	compare("paused")
	// The public still hears of the pause, numbered in its own count.
	var v scoreboard.View
	if err := json.Unmarshal(busy.do("GET", "/api/v1/scoreboard", "", cred{}).Body.Bytes(), &v); err != nil {
		t.Fatal(err)
	}
	if n := len(v.Recent); n < 2 || v.Recent[n-1].Text != scoreboard.ActPause || v.Recent[n-2].Text != scoreboard.ActFreeze ||
		v.Recent[n-1].Seq != v.Recent[n-2].Seq+1 || v.Seq != v.Recent[n-1].Seq {
		t.Errorf("frozen board: seq %d, ticker ends %+v", v.Seq, v.Recent[max(0, n-2):])
	}
	step(func(fx *fixture) { fx.advance(time.Second); must(fx.game.Act(ctx, scoreboard.ActResume)) })
	step(func(fx *fixture) {
		fx.advance(time.Minute)
		must(fx.game.StartTick(ctx))
		fx.game.WaitChecks()
	})
	compare("resumed")
	// The end reveals the board: now the two differ.
	step(func(fx *fixture) { fx.advance(time.Second); must(fx.game.Act(ctx, scoreboard.ActEnd)) })
	if q, b := quiet.do("GET", "/api/v1/scoreboard", "", cred{}), busy.do("GET", "/api/v1/scoreboard", "", cred{}); bytes.Equal(q.Body.Bytes(), b.Body.Bytes()) {
		t.Error("the end revealed nothing")
	}
}
