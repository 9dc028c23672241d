package checks

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestHandlerErrors(t *testing.T) {
	h := NewHandler(&canned{res: TaskResult{Result: OK}}, nil)
	tests := []struct {
		desc, method, path, body string
		code                     int
		want                     string
	}{
		{"bad json", "POST", "/", `{"method":`, 400, "malformed task"},
		{"not an object", "POST", "/", `[1,2]`, 400, "malformed task"},
		{"trailing data", "POST", "/", `{"method":"havoc"} {}`, 400, "malformed task"},
		{"unknown method", "POST", "/", `{"method":"pwn"}`, 400, `unknown method "pwn"`},
		{"no method", "POST", "/", `{}`, 400, `unknown method ""`},
		{"putflag without flag", "POST", "/", `{"method":"putflag"}`, 400, "putflag needs a flag"},
		{"getflag with empty flag", "POST", "/", `{"method":"getflag","flag":""}`, 400, "getflag needs a flag"},
		{"exploit without hash", "POST", "/", `{"method":"exploit"}`, 400, "exploit needs a flagHash"},
		{"negative timeout", "POST", "/", `{"method":"havoc","timeout":-1}`, 400, "negative"},
		{"too large", "POST", "/", `{"method":"havoc","address":"` + strings.Repeat("a", maxTaskBody) + `"}`, 400, "too large"},
		{"get on tasks", "GET", "/", "", 405, ""},
		{"post on service", "POST", "/service", "", 405, ""},
		{"elsewhere", "POST", "/other", "{}", 404, ""},
		{"fine", "POST", "/", `{"method":"havoc","extraKey":1}`, 200, ""},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body)))
			if w.Code != tc.code {
				t.Fatalf("status %d, want %d (%s)", w.Code, tc.code, w.Body)
			}
			if tc.code != 400 {
				return
			}
			var e struct{ Error string }
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || !strings.Contains(e.Error, tc.want) {
				t.Errorf("body %s, want an error with %q", w.Body, tc.want)
			}
		})
	}
}

func TestHandlerResults(t *testing.T) {
	tests := []struct {
		desc string
		c    *canned
		want Result
		msg  string
	}{
		{"verdict passes through", &canned{res: TaskResult{Result: Mumble, Message: Str("bad reply")}}, Mumble, "bad reply"},
		{"checker error", &canned{err: errors.New("db down")}, InternalError, "checker error"},
		{"checker panic", &canned{panics: true}, InternalError, "checker error"},
		{"unknown result", &canned{res: TaskResult{Result: "FINE"}}, InternalError, "checker error"},
		{"checker runs out of time", &canned{honour: true}, Offline, msgTimeout},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			w := httptest.NewRecorder()
			NewHandler(tc.c, nil).ServeHTTP(w, httptest.NewRequest("POST", "/", strings.NewReader(`{"method":"havoc","timeout":100}`)))
			var res TaskResult
			if err := json.Unmarshal(w.Body.Bytes(), &res); w.Code != 200 || err != nil {
				t.Fatalf("status %d body %s", w.Code, w.Body)
			}
			if res.Result != tc.want || deref(res.Message) != tc.msg {
				t.Errorf("got %s %q, want %s %q", res.Result, deref(res.Message), tc.want, tc.msg)
			}
		})
	}
}

func TestHandlerDeadline(t *testing.T) {
	c := &canned{res: TaskResult{Result: OK}}
	w := httptest.NewRecorder()
	NewHandler(c, nil).ServeHTTP(w, httptest.NewRequest("POST", "/", strings.NewReader(`{"method":"havoc","timeout":1000}`)))
	if len(c.remaining) != 1 {
		t.Fatalf("checker saw no deadline")
	}
	// The checker must answer before the engine stops waiting: it gets
	// less than the task's second (how much less the load decides).
	if d := c.remaining[0]; d > 900*time.Millisecond || d <= 0 {
		t.Errorf("checker given %v of a 1 s task", d)
	}
}

func TestHandlerService(t *testing.T) {
	info := ServiceInfo{ServiceName: "s", FlagVariants: 1}
	tests := []struct {
		desc string
		c    *canned
		code int
	}{
		{"ok", &canned{info: info}, 200},
		{"checker fails", &canned{infoErr: errors.New("no")}, 500},
		{"nonsense", &canned{info: ServiceInfo{HavocVariants: -3}}, 500},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			w := httptest.NewRecorder()
			NewHandler(tc.c, nil).ServeHTTP(w, httptest.NewRequest("GET", "/service", nil))
			if w.Code != tc.code {
				t.Fatalf("status %d, want %d", w.Code, tc.code)
			}
			var got ServiceInfo
			if tc.code == 200 && (json.Unmarshal(w.Body.Bytes(), &got) != nil || got != info) {
				t.Errorf("body %s", w.Body)
			}
			if tc.code != 200 && strings.Contains(w.Body.String(), "no") && !strings.Contains(w.Body.String(), "unavailable") {
				t.Errorf("checker's own error leaked: %s", w.Body)
			}
		})
	}
}

func TestInProcessIdempotent(t *testing.T) {
	c := InProcess(&canned{})
	if InProcess(c) != c {
		t.Error("wrapping twice shortens the deadline twice")
	}
}
