package web

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestLoginFloodKeepsOtherSessions floods logins with one team's token,
// from one source and then from many, and expects the organizer's and the
// defence's sessions to survive, the flooding team's to stay bounded, and
// another team's real login to succeed.
func TestLoginFloodKeepsOtherSessions(t *testing.T) {
	for _, pace := range []struct {
		name string
		step time.Duration
	}{
		// As fast as the server answers: the rate limits refuse most.
		{"fast", time.Millisecond},
		// Slow enough that the limits admit every login: the bound on
		// the team's own sessions is what holds.
		{"paced", loginEvery},
	} {
		t.Run(pace.name, func(t *testing.T) { loginFlood(t, pace.step) })
	}
}

func loginFlood(t *testing.T, step time.Duration) {
	fx := newFixture(t)
	fx.play()
	org := fx.login(fx.toks.OrganizerToken())
	def := fx.login(fx.teamToken(teamDef))
	flood := fmt.Sprintf(`{"token":%q}`, fx.teamToken(teamHaNoi))
	codes := map[int]int{}
	var first string
	for i := 0; i <= 10000; i++ {
		// Half the flood from one address, half from addresses of their own.
		src := "198.51.100.7:4000"
		if i%2 == 1 {
			src = fmt.Sprintf("10.%d.%d.%d:4000", i>>16&0xff, i>>8&0xff, i&0xff)
		}
		// Time moves, so that the organizer's and the defence's are
		// the oldest sessions.
		fx.advance(step)
		w := fx.do(http.MethodPost, "/api/v1/login", flood, cred{source: src})
		codes[w.Code]++
		if w.Code == http.StatusOK && first == "" {
			first = w.Result().Cookies()[0].Value
		}
		if w.Code == http.StatusTooManyRequests && w.Header().Get("Retry-After") == "" {
			t.Fatal("429 without Retry-After")
		}
	}
	t.Logf("10,001 logins: %v", codes)
	if step < loginEvery && codes[http.StatusTooManyRequests] == 0 {
		t.Errorf("10,001 logins in %s, none refused: %v", 10000*step, codes)
	}
	if w := fx.do("GET", "/api/v1/admin/teams", "", cred{cookie: org.Value}); w.Code != http.StatusOK {
		t.Errorf("the organizer's session after the flood: %d %s", w.Code, w.Body)
	}
	if w := fx.do("GET", "/api/v1/detections", "", cred{cookie: def.Value}); w.Code != http.StatusOK {
		t.Errorf("the defence's session after the flood: %d %s", w.Code, w.Body)
	}
	w := fx.do(http.MethodPost, "/api/v1/login", fmt.Sprintf(`{"token":%q}`, fx.teamToken(teamDaNang)), cred{source: "203.0.113.9:5000"})
	if w.Code != http.StatusOK {
		t.Fatalf("another team's login after the flood: %d %s", w.Code, w.Body)
	}
	if w := fx.do("GET", "/api/v1/targets", "", cred{cookie: w.Result().Cookies()[0].Value}); w.Code != http.StatusOK {
		t.Errorf("another team's new session: %d %s", w.Code, w.Body)
	}
	if codes[http.StatusOK] > maxSessionsPerPrincipal {
		// The flooding team paid with its own oldest sessions.
		if w := fx.do("GET", "/api/v1/me", "", cred{cookie: first}); w.Code != http.StatusUnauthorized {
			t.Errorf("the flood's first session still works (%d): the team's sessions are not bounded", w.Code)
		}
	}
	if n := fx.srv.sessions.count(fx.clock()); n > maxSessionsPerPrincipal+3 {
		t.Errorf("%d sessions after the flood, want at most the team's %d and three others", n, maxSessionsPerPrincipal)
	}
}

// TestLoginRateLimit: failed logins cost a source more than good ones, a
// limited source gets 429 with Retry-After whatever it sends, other
// sources are not affected, and the budget comes back with time.
func TestLoginRateLimit(t *testing.T) {
	fx := newFixture(t)
	bad := `{"token":"00000000000000000000000000000000"}`
	good := fmt.Sprintf(`{"token":%q}`, fx.teamToken(teamDaNang))
	src := cred{source: "198.51.100.8:4000"}
	failures := 0
	for ; failures < 100; failures++ {
		w := fx.do(http.MethodPost, "/api/v1/login", bad, src)
		if w.Code == http.StatusTooManyRequests {
			if ra := w.Header().Get("Retry-After"); ra == "" || ra == "0" {
				t.Fatalf("Retry-After %q", ra)
			}
			if !strings.Contains(w.Body.String(), `"error"`) {
				t.Fatalf("429 body %s", w.Body)
			}
			break
		}
		if w.Code != http.StatusUnauthorized {
			t.Fatalf("failed login %d: %d %s", failures, w.Code, w.Body)
		}
	}
	if failures == 0 || failures >= 100 {
		t.Fatalf("%d failed logins before 429", failures)
	}
	// The limited source's guesses never keep a good token out, even from
	// that very address (others share it: a NAT, a published port).
	if w := fx.do(http.MethodPost, "/api/v1/login", good, src); w.Code != http.StatusOK {
		t.Fatalf("a good token from the limited source: %d %s, want 200", w.Code, w.Body)
	}
	// Another source is not affected, and logs in more often than the
	// first source could fail.
	other := cred{source: "198.51.100.9:4000"}
	successes := 0
	for ; successes < 100; successes++ {
		w := fx.do(http.MethodPost, "/api/v1/login", good, other)
		if w.Code == http.StatusTooManyRequests {
			break
		}
		if w.Code != http.StatusOK {
			t.Fatalf("login %d: %d %s", successes, w.Code, w.Body)
		}
	}
	if successes <= failures {
		t.Errorf("%d good logins and %d failed ones before 429: failures must cost more", successes, failures)
	}
	fx.advance(10 * time.Minute)
	if w := fx.do(http.MethodPost, "/api/v1/login", good, src); w.Code != http.StatusOK {
		t.Fatalf("the first source after a pause: %d %s", w.Code, w.Body)
	}
}
