package submit

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cyrange/cyrange/scoreboard"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func (f *fixture) httpOptions() HTTPOptions {
	return HTTPOptions{Judge: f.game, Auth: f.toks}
}

// golden compares got with testdata/http/name.golden, or rewrites it.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "http", name+".golden")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// dump renders a response as the golden files hold it: status, the
// headers that matter, body.
func dump(rec *httptest.ResponseRecorder) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%d %s\n", rec.Code, http.StatusText(rec.Code))
	for _, h := range []string{"Content-Type", "Retry-After", "Allow"} {
		if v := rec.Header().Get(h); v != "" {
			fmt.Fprintf(&b, "%s: %s\n", h, v)
		}
	}
	b.WriteString("\n")
	b.Write(rec.Body.Bytes())
	return b.Bytes()
}

func TestHTTPGolden(t *testing.T) {
	type req struct {
		method, path string
		header       map[string]string
		body         string
	}
	// Each case gets a fresh game; setup may move it first.
	tests := []struct {
		name  string
		fx    fixtureOpts
		setup func(t *testing.T, fx *fixture, o *HTTPOptions)
		req   func(fx *fixture) req
	}{
		{name: "ok_mixed", fx: fixtureOpts{running: true}, req: func(fx *fixture) req {
			f := fx.flag(4000, teamDelta, 0)
			return req{"PUT", "/flags", map[string]string{"X-Team-Token": fx.toks.TeamToken(teamAlpha)},
				fmt.Sprintf(`[%q, %q, %q, %q, %q, %q, "hello \"there\"\n", "\u00e9\ud83d\ude00", ""]`,
					f, fx.flag(4001, teamDelta, 0), f, fx.flag(1000, teamDelta, 1), forged, fx.flag(4000, teamAlpha, 0))}
		}},
		{name: "ok_own_post_bearer", fx: fixtureOpts{running: true}, req: func(fx *fixture) req {
			return req{"POST", "/api/v1/flags", map[string]string{"Authorization": "Bearer " + fx.toks.TeamToken(teamCharlie)},
				fmt.Sprintf(`[%q]`, fx.flag(4000, teamCharlie, 1))}
		}},
		{name: "ok_empty", fx: fixtureOpts{running: true}, req: func(fx *fixture) req {
			return req{"PUT", "/flags", map[string]string{"X-Team-Token": fx.toks.TeamToken(teamAlpha)}, " [ ] "}
		}},
		{name: "401_missing", fx: fixtureOpts{running: true}, req: func(fx *fixture) req {
			return req{"PUT", "/flags", nil, `[]`}
		}},
		{name: "401_wrong", fx: fixtureOpts{running: true}, req: func(fx *fixture) req {
			return req{"PUT", "/flags", map[string]string{"X-Team-Token": "0123456789abcdef0123456789abcdef"}, `[]`}
		}},
		{name: "401_basic_auth", fx: fixtureOpts{running: true}, req: func(fx *fixture) req {
			return req{"PUT", "/flags", map[string]string{"Authorization": "Basic " + fx.toks.TeamToken(teamAlpha)}, `[]`}
		}},
		{name: "403_organizer", fx: fixtureOpts{running: true}, req: func(fx *fixture) req {
			return req{"PUT", "/flags", map[string]string{"X-Team-Token": fx.toks.OrganizerToken()}, `[]`}
		}},
		{name: "403_defence", fx: fixtureOpts{running: true}, req: func(fx *fixture) req {
			return req{"PUT", "/flags", map[string]string{"X-Team-Token": fx.toks.TeamToken(teamDelta)}, `[]`}
		}},
		{name: "400_broken_json", fx: fixtureOpts{running: true}, req: func(fx *fixture) req {
			return req{"PUT", "/flags", map[string]string{"X-Team-Token": fx.toks.TeamToken(teamAlpha)}, `["AAA", "BBB"`}
		}},
		{name: "400_wrong_type", fx: fixtureOpts{running: true}, req: func(fx *fixture) req {
			return req{"PUT", "/flags", map[string]string{"X-Team-Token": fx.toks.TeamToken(teamAlpha)}, `["AAA", 42]`}
		}},
		{name: "400_object", fx: fixtureOpts{running: true}, req: func(fx *fixture) req {
			return req{"PUT", "/flags", map[string]string{"X-Team-Token": fx.toks.TeamToken(teamAlpha)}, `{"flags": []}`}
		}},
		{name: "400_empty", fx: fixtureOpts{running: true}, req: func(fx *fixture) req {
			return req{"PUT", "/flags", map[string]string{"X-Team-Token": fx.toks.TeamToken(teamAlpha)}, ``}
		}},
		{name: "400_bad_escape", fx: fixtureOpts{running: true}, req: func(fx *fixture) req {
			return req{"PUT", "/flags", map[string]string{"X-Team-Token": fx.toks.TeamToken(teamAlpha)}, `["\x"]`}
		}},
		{name: "400_trailing", fx: fixtureOpts{running: true}, req: func(fx *fixture) req {
			return req{"PUT", "/flags", map[string]string{"X-Team-Token": fx.toks.TeamToken(teamAlpha)}, `[] []`}
		}},
		{name: "400_too_many", fx: fixtureOpts{running: true}, req: func(fx *fixture) req {
			return req{"PUT", "/flags", map[string]string{"X-Team-Token": fx.toks.TeamToken(teamAlpha)},
				"[" + strings.Repeat(`"x",`, 1000) + `"x"]`}
		}},
		{name: "400_too_large", fx: fixtureOpts{running: true}, req: func(fx *fixture) req {
			return req{"PUT", "/flags", map[string]string{"X-Team-Token": fx.toks.TeamToken(teamAlpha)},
				`["` + strings.Repeat("x", DefaultMaxBody) + `"]`}
		}},
		{name: "409_not_started", req: func(fx *fixture) req {
			return req{"PUT", "/flags", map[string]string{"X-Team-Token": fx.toks.TeamToken(teamAlpha)}, `["x"]`}
		}},
		{name: "409_paused", fx: fixtureOpts{running: true},
			setup: func(t *testing.T, fx *fixture, _ *HTTPOptions) { fx.act(t, scoreboard.ActPause) },
			req: func(fx *fixture) req {
				return req{"PUT", "/flags", map[string]string{"X-Team-Token": fx.toks.TeamToken(teamAlpha)}, `["x"]`}
			}},
		{name: "409_over", fx: fixtureOpts{running: true},
			setup: func(t *testing.T, fx *fixture, _ *HTTPOptions) { fx.act(t, scoreboard.ActEnd) },
			req: func(fx *fixture) req {
				return req{"PUT", "/flags", map[string]string{"X-Team-Token": fx.toks.TeamToken(teamAlpha)}, `["x"]`}
			}},
		{name: "429_rate_limited", fx: fixtureOpts{running: true},
			setup: func(t *testing.T, fx *fixture, o *HTTPOptions) {
				o.Limiter = NewLimiter(0.4, 3, 4, fx.clock.Now)
				o.Limiter.Take(teamAlpha, 2)
			},
			req: func(fx *fixture) req {
				return req{"PUT", "/flags", map[string]string{"X-Team-Token": fx.toks.TeamToken(teamAlpha)},
					fmt.Sprintf(`[%q, %q, "not counted"]`, fx.flag(4000, teamDelta, 0), fx.flag(4001, teamDelta, 0))}
			}},
		{name: "400_over_burst", fx: fixtureOpts{running: true},
			setup: func(t *testing.T, fx *fixture, o *HTTPOptions) { o.Limiter = NewLimiter(1, 1, 4, fx.clock.Now) },
			req: func(fx *fixture) req {
				return req{"PUT", "/flags", map[string]string{"X-Team-Token": fx.toks.TeamToken(teamAlpha)},
					fmt.Sprintf(`[%q, %q]`, fx.flag(4000, teamDelta, 0), fx.flag(4001, teamDelta, 0))}
			}},
		{name: "405_get", fx: fixtureOpts{running: true}, req: func(fx *fixture) req {
			return req{"GET", "/flags", map[string]string{"X-Team-Token": fx.toks.TeamToken(teamAlpha)}, ``}
		}},
		{name: "404_elsewhere", fx: fixtureOpts{running: true}, req: func(fx *fixture) req {
			return req{"PUT", "/api/v1/flag", map[string]string{"X-Team-Token": fx.toks.TeamToken(teamAlpha)}, `[]`}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t, tt.fx)
			o := fx.httpOptions()
			if tt.setup != nil {
				tt.setup(t, fx, &o)
			}
			h := NewHTTPHandler(o)
			r := tt.req(fx)
			hr := httptest.NewRequest(r.method, r.path, strings.NewReader(r.body))
			for k, v := range r.header {
				hr.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, hr)
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if !json.Valid(rec.Body.Bytes()) {
				t.Errorf("body is not JSON: %q", rec.Body.String())
			}
			golden(t, tt.name, dump(rec))
		})
	}
}

func TestHTTPThousandFlags(t *testing.T) {
	fx := newFixture(t, fixtureOpts{running: true})
	var obs observed
	o := fx.httpOptions()
	o.Observe = obs.observe
	h := NewHTTPHandler(o)
	var flags []string
	for i := range MaxHTTPFlags {
		if i%4 == 3 {
			flags = append(flags, fmt.Sprintf("junk %d", i))
			continue
		}
		flags = append(flags, fx.flag(int32(1001+i), teamDelta, 0))
	}
	body, _ := json.Marshal(flags)
	hr := httptest.NewRequest("PUT", "/flags", bytes.NewReader(body))
	hr.Header.Set("X-Team-Token", fx.toks.TeamToken(teamBravo))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, hr)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var got []struct {
		Flag   string `json:"flag"`
		Msg    string `json:"msg"`
		Status bool   `json:"status"`
		Code   string `json:"code"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(flags) {
		t.Fatalf("%d replies for %d flags", len(got), len(flags))
	}
	for i, g := range got {
		want := "OK"
		if i%4 == 3 {
			want = "INV"
		}
		if g.Flag != flags[i] || g.Code != want || g.Status != (want == "OK") || !strings.HasPrefix(g.Msg, "["+flags[i]+"] ") {
			t.Fatalf("reply %d = %+v for %q, want code %s", i, g, flags[i], want)
		}
	}
	if obs.get(scoreboard.CodeOK) != 750 || obs.get(scoreboard.CodeINV) != 250 {
		t.Errorf("observed %v", obs.n)
	}
}

// The TCP and HTTP doors draw on the same bucket.
func TestHTTPSharesTheLimiter(t *testing.T) {
	fx := newFixture(t, fixtureOpts{running: true})
	var obs observed
	lim := NewLimiter(1, 4, 4, fx.clock.Now)
	o := fx.httpOptions()
	o.Limiter, o.Observe = lim, obs.observe
	h := NewHTTPHandler(o)
	put := func(flags ...string) *httptest.ResponseRecorder {
		body, _ := json.Marshal(flags)
		hr := httptest.NewRequest("PUT", "/flags", bytes.NewReader(body))
		hr.Header.Set("X-Team-Token", fx.toks.TeamToken(teamAlpha))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, hr)
		return rec
	}
	if g, _ := lim.Take(teamAlpha, 3); g != 3 {
		t.Fatalf("granted %d, want 3", g)
	}
	a, b := fx.flag(3000, teamDelta, 0), fx.flag(3001, teamDelta, 0)
	if rec := put(a, b); rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "1" {
		t.Fatalf("status %d, Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}
	if obs.get(scoreboard.CodeERR) != 2 {
		t.Errorf("observed %v, want 2 ERR", obs.n)
	}
	fx.clock.Advance(time.Second)
	if rec := put(a, b); rec.Code != http.StatusOK {
		t.Fatalf("status %d after waiting: %s", rec.Code, rec.Body)
	}
	// Another team is not affected.
	if g, _ := lim.Take(teamBravo, 4); g != 4 {
		t.Errorf("bravo granted %d, want 4", g)
	}
}

func TestHTTPJudgeFailure(t *testing.T) {
	fx := newFixture(t, fixtureOpts{running: true})
	tests := []struct {
		err    error
		status int
		body   string
	}{
		{errors.New("disk on fire"), 500, `{"error":"submission failed, try again later"}` + "\n"},
		{fmt.Errorf("no: %w", scoreboard.ErrForbidden), 403, `{"error":"this team only defends and cannot submit flags"}` + "\n"},
	}
	for _, tt := range tests {
		o := fx.httpOptions()
		o.Judge = stubJudge{err: tt.err}
		hr := httptest.NewRequest("PUT", "/flags", strings.NewReader(fmt.Sprintf(`[%q]`, fx.flag(4000, teamDelta, 0))))
		hr.Header.Set("X-Team-Token", fx.toks.TeamToken(teamAlpha))
		rec := httptest.NewRecorder()
		NewHTTPHandler(o).ServeHTTP(rec, hr)
		if rec.Code != tt.status || rec.Body.String() != tt.body {
			t.Errorf("%v: %d %q, want %d %q", tt.err, rec.Code, rec.Body, tt.status, tt.body)
		}
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		body string
		want []string
		err  string
	}{
		{`[]`, nil, ""},
		{" \t\r\n[ \"A\" ,\"B\"\n] \n", []string{"A", "B"}, ""},
		{`["a\"b\\c\/d\b\f\n\r\t"]`, []string{"a\"b\\c/d\b\f\n\r\t"}, ""},
		{`["\u0041\u00e9\ud83d\ude00"]`, []string{"Aé😀"}, ""},
		{`["\ud83d", "\ude00x", "\ud83d\u0041"]`, []string{"\uFFFD", "\uFFFDx", "\uFFFDA"}, ""},
		{"[\"\xff\xfeok\"]", []string{"\uFFFD\uFFFDok"}, ""},
		{``, nil, "empty body: want a JSON array of flag strings"},
		{`null`, nil, "body is not a JSON array of flag strings"},
		{`"x"`, nil, "body is not a JSON array of flag strings"},
		{`[`, nil, "unexpected end of body inside the array"},
		{`["x"`, nil, "unexpected end of body inside the array"},
		{`["x",]`, nil, "element 1 is not a string"},
		{`[,]`, nil, "element 0 is not a string"},
		{`[null]`, nil, "element 0 is not a string"},
		{`["x" "y"]`, nil, "expected ',' or ']' after element 0"},
		{`["x`, nil, "element 0: unterminated string"},
		{`["\`, nil, "element 0: unterminated string"},
		{"[\"a\tb\"]", nil, "element 0: control character in string"},
		{`["\u00zz"]`, nil, "element 0: invalid \\u escape"},
		{`["\a"]`, nil, "element 0: invalid escape \\a"},
		{`[]x`, nil, "data after the JSON array"},
		{`["a","b","c","d"]`, nil, "more than 3 flags in one request"},
	}
	for _, tt := range tests {
		got, err := parseFlags([]byte(tt.body), 3, nil)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("parseFlags(%q) error %v, want %q", tt.body, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseFlags(%q): %v", tt.body, err)
			continue
		}
		var gs []string
		for _, g := range got {
			gs = append(gs, string(g))
		}
		if fmt.Sprint(gs) != fmt.Sprint(tt.want) || len(gs) != len(tt.want) {
			t.Errorf("parseFlags(%q) = %q, want %q", tt.body, gs, tt.want)
		}
	}
}

func TestAppendJSONString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", `"plain"`},
		{"q\"b\\", `"q\"b\\"`},
		{"\n\r\t\x00\x1f", `"\n\r\t\u0000\u001f"`},
		{"é😀", `"é😀"`},
		{"a\xffb", `"a\ufffdb"`},
		{"\u2028\u2029", `"\u2028\u2029"`},
	}
	for _, tt := range tests {
		got := string(appendJSONString(nil, []byte(tt.in)))
		if got != tt.want {
			t.Errorf("appendJSONString(%q) = %s, want %s", tt.in, got, tt.want)
		}
		var back string
		if err := json.Unmarshal([]byte(got), &back); err != nil {
			t.Errorf("%s: %v", got, err)
		}
	}
}

// FuzzFlagsBody checks the hand-written parser against encoding/json:
// both accept the same bodies, with the same strings.
func FuzzFlagsBody(f *testing.F) {
	for _, s := range []string{`[]`, `["AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="]`, `["a", "b"]`, `["\u00e9\ud83d\ude00"]`,
		`["\ud800\u0041"]`, `[1]`, `{}`, `null`, ` [ "x" ] `, "[\"\xff\"]", `["\/\b\f\n\r\t\"\\"]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := parseFlags(body, 1<<20, nil)
		var ref []any
		refErr := json.Unmarshal(body, &ref)
		refOK := refErr == nil && bytes.HasPrefix(bytes.TrimLeft(body, " \t\r\n"), []byte("["))
		for _, v := range ref {
			if _, ok := v.(string); !ok {
				refOK = false
			}
		}
		if (err == nil) != refOK {
			t.Fatalf("parseFlags(%q) error %v; encoding/json %v (ok %v)", body, err, refErr, refOK)
		}
		if err != nil {
			return
		}
		if len(got) != len(ref) {
			t.Fatalf("parseFlags(%q): %d strings, encoding/json %d", body, len(got), len(ref))
		}
		for i := range got {
			if string(got[i]) != ref[i].(string) {
				t.Fatalf("parseFlags(%q)[%d] = %q, encoding/json %q", body, i, got[i], ref[i])
			}
		}
		// What we echo back must read back as what was sent.
		for i := range got {
			var back string
			enc := appendJSONString(nil, got[i])
			if err := json.Unmarshal(enc, &back); err != nil || back != ref[i].(string) {
				t.Fatalf("echo of %q = %s (%v)", got[i], enc, err)
			}
		}
	})
}
