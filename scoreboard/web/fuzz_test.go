package web

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// FuzzPhaseBody throws arbitrary bodies at the phase endpoint: it must
// answer 200 with the phase, or a 400/409/413 {"error": ...}, never crash
// or fail inside.
func FuzzPhaseBody(f *testing.F) {
	for _, s := range []string{`{"action":"start"}`, `{"action":"freeze"}`, `{"action":"bogus"}`,
		`{}`, `{"action":5}`, `{"action":"end","x":1}`, `[`, ``, `null`, `{"action":"pause"} {}`} {
		f.Add([]byte(s))
	}
	fx := newFixture(f)
	org := cred{bearer: fx.toks.OrganizerToken()}
	f.Fuzz(func(t *testing.T, body []byte) {
		w := fx.do(http.MethodPost, "/api/v1/admin/phase", string(body), org)
		switch w.Code {
		case http.StatusOK:
			var p phaseBody
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || p.Phase == "" {
				t.Fatalf("200 with body %q", w.Body)
			}
		case http.StatusBadRequest, http.StatusConflict, http.StatusRequestEntityTooLarge:
			var e errorBody
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error == "" {
				t.Fatalf("%d with body %q", w.Code, w.Body)
			}
		default:
			t.Fatalf("status %d for %q: %s", w.Code, body, w.Body)
		}
	})
}

// FuzzLoginBody: a login succeeds only for a real token, and every other
// body is a 400/401/413 {"error": ...} without a cookie.
func FuzzLoginBody(f *testing.F) {
	fx := newFixture(f)
	for _, s := range []string{`{"token":"` + fx.teamToken(teamHaNoi) + `"}`, `{"token":""}`,
		`{"token":"00000000000000000000000000000000"}`, `{"token":1}`, `{"token":"a","x":2}`, `{`, `"tok"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		// A minute between attempts: the login limits never refuse one.
		fx.advance(time.Minute)
		w := fx.do(http.MethodPost, "/api/v1/login", string(body), cred{})
		cookies := w.Result().Cookies()
		switch w.Code {
		case http.StatusOK:
			var req loginRequest
			if err := json.Unmarshal(body, &req); err != nil {
				t.Fatalf("login accepted %q", body)
			}
			// Surrounding spaces are trimmed; nothing else is forgiven.
			if _, err := fx.toks.Lookup(strings.TrimSpace(req.Token)); err != nil {
				t.Fatalf("login accepted %q", body)
			}
			if len(cookies) != 1 || !cookies[0].HttpOnly {
				t.Fatalf("login without a proper cookie: %v", cookies)
			}
		case http.StatusBadRequest, http.StatusUnauthorized, http.StatusRequestEntityTooLarge:
			var e errorBody
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error == "" || len(cookies) != 0 {
				t.Fatalf("%d with body %q, cookies %v", w.Code, w.Body, cookies)
			}
		default:
			t.Fatalf("status %d for %q: %s", w.Code, body, w.Body)
		}
	})
}
