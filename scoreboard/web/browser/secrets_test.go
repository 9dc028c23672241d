package browser

import (
	"errors"
	"io"
	"io/fs"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/cyrange/cyrange/scoreboard"
	"github.com/cyrange/cyrange/static"
)

// secrets returns every token and every flag issued so far.
func (s *server) secrets() []string {
	s.t.Helper()
	f := s.toks.File()
	out := []string{f.Organizer}
	for _, tm := range f.Teams {
		out = append(out, tm.Token)
	}
	for tick := int32(1); ; tick++ {
		flags, err := s.game.IssuedFlags(tick)
		if errors.Is(err, scoreboard.ErrNotFound) {
			break
		}
		if err != nil {
			s.t.Fatal(err)
		}
		for _, fl := range flags {
			out = append(out, fl.Flag)
		}
	}
	return out
}

func (s *server) get(path string, token string) (int, string) {
	s.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.url+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	c := &http.Client{Timeout: 5 * time.Second}
	defer c.CloseIdleConnections()
	res, err := c.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func scan(t *testing.T, where, text string, secrets []string) {
	t.Helper()
	for _, sec := range secrets {
		if strings.Contains(text, sec) {
			t.Errorf("%s shows secret %s", where, sec)
		}
	}
}

// TestNoSecretInPublicSurfaces reads every public page, file, route and
// the public stream through a game with captures, a freeze and more
// captures, and looks for every token and every flag issued. It needs no
// browser.
func TestNoSecretInPublicSurfaces(t *testing.T) {
	srv := newServer(t)
	srv.play(3)

	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.url, "http")+"/api/v1/live", nil)
	if err != nil {
		t.Fatal(err)
	}
	msgs := make(chan string, 1024)
	go func() {
		defer close(msgs)
		for {
			_, b, err := ws.ReadMessage()
			if err != nil {
				return
			}
			msgs <- string(b)
		}
	}()
	var stream strings.Builder
	// collect reads until the stream has been quiet for a while.
	collect := func() {
		for {
			select {
			case m, ok := <-msgs:
				if !ok {
					return
				}
				stream.WriteString(m + "\n")
			case <-time.After(400 * time.Millisecond):
				return
			}
		}
	}
	collect()
	srv.capture(4, mail, "drafts")
	srv.tick()
	srv.capture(5, portal, "news")
	srv.act(scoreboard.ActFreeze)
	srv.tick()
	srv.capture(6, mail, "inbox")
	collect()
	ws.Close()
	for range msgs {
	}
	_, later, _ := strings.Cut(stream.String(), "\n")
	if !strings.Contains(stream.String(), `"type":"snapshot"`) || !strings.Contains(later, `"kind":"capture","team":"`+attackTeams[4]) {
		t.Fatalf("the stream carried no snapshot or no captures after it:\n%.800s", stream.String())
	}

	secrets := srv.secrets()
	if len(secrets) < 10+5*4 {
		t.Fatalf("only %d secrets to look for", len(secrets))
	}
	// The scan must be able to fail: the organizer's routes hold them.
	if _, body := srv.get("/api/v1/admin/flags", srv.toks.OrganizerToken()); !strings.Contains(body, secrets[len(secrets)-1]) {
		t.Fatal("the secrets are not the issued flags")
	}
	if _, body := srv.get("/api/v1/admin/teams", srv.toks.OrganizerToken()); !strings.Contains(body, secrets[1]) {
		t.Fatal("the secrets are not the tokens")
	}

	scan(t, "the public stream", stream.String(), secrets)
	// /metrics is the organizer's: its counts move with captures.
	if code, _ := srv.get("/metrics", ""); code != http.StatusUnauthorized {
		t.Errorf("/metrics for the audience: %d, want 401", code)
	}
	paths := []string{"/", "/healthz", "/api/v1/scoreboard", "/api/v1/scoring", "/api/v1/history",
		"/api/v1/export/ctftime"}
	files, err := fs.Glob(static.FS, "*")
	if err != nil || len(files) < 10 {
		t.Fatalf("static files %v %v", files, err)
	}
	for _, f := range files {
		paths = append(paths, "/"+f)
	}
	for _, p := range paths {
		code, body := srv.get(p, "")
		if code != http.StatusOK {
			t.Errorf("%s: %d", p, code)
		}
		scan(t, p, body, secrets)
	}
}

// TestNoSecretInPublicPages opens every page as the audience does and
// looks for tokens and flags in what the browser built.
func TestNoSecretInPublicPages(t *testing.T) {
	browser.Need(t)
	srv := newServer(t)
	srv.play(4)
	secrets := srv.secrets()
	for _, page := range []string{"/", "/war.html", "/scoring.html", "/team.html", "/admin.html"} {
		tb := newTab(t, 1920, 1080)
		tb.Open(srv.url + page)
		tb.WaitJS("the page's data", `document.getElementById('conn')?.dataset.state === 'live'
			|| !!document.querySelector('#main section.panel h2')
			|| !document.getElementById('login-box')?.hidden`, 5*time.Second)
		time.Sleep(100 * time.Millisecond)
		scan(t, page, eval[string](tb, `document.documentElement.outerHTML + JSON.stringify(localStorage) + JSON.stringify(sessionStorage)`), secrets)
		tb.Close()
	}
}
