package mailserver

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// sessionsAt is a session table on a clock the test moves.
func sessionsAt(now *time.Time) *sessions {
	return newSessions(func() time.Time { return *now }, "T")
}

// login creates a session and returns its cookie.
func login(ss *sessions, sess *session) *http.Cookie {
	w := httptest.NewRecorder()
	ss.create(w, sess, "/")
	return w.Result().Cookies()[0]
}

func alive(ss *sessions, c *http.Cookie) bool {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.AddCookie(c)
	_, ok := ss.get(r)
	return ok
}

// TestSessionsPerLogin: logging in over and over with one mailbox's
// password replaces only that mailbox's oldest sessions; the checker's
// master session to the same mailbox and other mailboxes' sessions stay.
func TestSessionsPerLogin(t *testing.T) {
	now := time.Unix(1e9, 0)
	ss := sessionsAt(&now)
	a, b := &Account{Index: 1}, &Account{Index: 2}
	checker := login(ss, &session{acct: a, grant: grant{acct: a, master: true}})
	other := login(ss, &session{acct: b, grant: grant{acct: b}})
	first := login(ss, &session{acct: a, grant: grant{acct: a}})
	var last *http.Cookie
	for range 10 * maxSessionsPerLogin {
		now = now.Add(time.Second)
		last = login(ss, &session{acct: a, grant: grant{acct: a}})
	}
	if alive(ss, first) {
		t.Error("the mailbox's first session outlived the per-login bound")
	}
	for name, c := range map[string]*http.Cookie{"the checker's": checker, "another mailbox's": other, "the newest": last} {
		if !alive(ss, c) {
			t.Errorf("%s session was pushed out", name)
		}
	}
	if n, want := ss.len(), maxSessionsPerLogin+2; n != want {
		t.Errorf("%d sessions in the table, want %d", n, want)
	}
}

// TestSessionsBounded: the table as a whole stays within its bound, the
// sessions seen the longest ago going first, and the checker's pool apart.
func TestSessionsBounded(t *testing.T) {
	now := time.Unix(1e9, 0)
	ss := sessionsAt(&now)
	acct := func(i int) *Account { return &Account{Index: i} }
	checker := login(ss, &session{acct: acct(0), grant: grant{acct: acct(0), master: true}})
	kept := login(ss, &session{acct: acct(1), grant: grant{acct: acct(1)}})
	oldest := login(ss, &session{acct: acct(2), grant: grant{acct: acct(2)}})
	for i := range maxSessions + 100 {
		now = now.Add(time.Millisecond)
		if i%1000 == 0 && !alive(ss, kept) { // seen again: the most recent
			t.Fatalf("a session in use was pushed out after %d logins", i)
		}
		login(ss, &session{acct: acct(3 + i), grant: grant{acct: acct(3 + i)}})
	}
	if n := ss.len(); n != maxSessions+1 {
		t.Errorf("%d sessions in the table, want %d and the checker's", n, maxSessions)
	}
	if alive(ss, oldest) {
		t.Error("the session seen the longest ago outlived the bound")
	}
	if !alive(ss, kept) || !alive(ss, checker) {
		t.Error("a session in use, or the checker's, was pushed out")
	}
}

// TestSessionsIdle: sessions idle past the limit are gone, and are
// dropped from the table by later logins.
func TestSessionsIdle(t *testing.T) {
	now := time.Unix(1e9, 0)
	ss := sessionsAt(&now)
	a, b := &Account{Index: 1}, &Account{Index: 2}
	for range 5 {
		login(ss, &session{acct: a, grant: grant{acct: a}})
	}
	now = now.Add(3 * time.Hour)
	c := login(ss, &session{acct: b, grant: grant{acct: b}})
	if n := ss.len(); n != 1 || !alive(ss, c) {
		t.Errorf("%d sessions after the idle ones went, want the new one alone", n)
	}
	now = now.Add(3 * time.Hour)
	if alive(ss, c) {
		t.Error("an idle session was still accepted")
	}
	if n := ss.len(); n != 0 {
		t.Errorf("%d sessions left after the last one expired", n)
	}
}
