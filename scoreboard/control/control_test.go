package control

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/cyrange/cyrange/scenarios"
	"github.com/cyrange/cyrange/scoreboard"
	"github.com/cyrange/cyrange/scoreboard/datadir"
	"github.com/cyrange/cyrange/scoreboard/exercisedb"
)

// fakeServer answers the health check and the phase change like the web
// server does, for the token "organizer".
func fakeServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("POST /api/v1/admin/phase", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Action string }
		if r.Header.Get("Authorization") != "Bearer organizer" {
			w.WriteHeader(http.StatusUnauthorized)
			json.NewEncoder(w).Encode(map[string]string{"error": "organizer token required"})
			return
		}
		if json.NewDecoder(r.Body).Decode(&in) != nil || in.Action != scoreboard.ActStart {
			http.Error(w, "no such action", http.StatusBadRequest)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"phase": "running"})
	})
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func TestSetPhase(t *testing.T) {
	ctx := context.Background()
	s := fakeServer(t)
	cases := []struct {
		desc, token, action, phase, err string
	}{
		{"moved", "organizer", scoreboard.ActStart, "running", ""},
		{"json refusal", "team", scoreboard.ActStart, "", "server refused (401 Unauthorized): organizer token required"},
		{"plain refusal", "organizer", "jump", "", "server refused (400 Bad Request): no such action"},
	}
	for _, c := range cases {
		t.Run(c.desc, func(t *testing.T) {
			cl := Client{URL: s.URL + "/", Token: c.token, HTTP: s.Client()}
			p, err := cl.SetPhase(ctx, c.action)
			if p != c.phase || (err == nil) != (c.err == "") || (err != nil && !strings.Contains(err.Error(), c.err)) {
				t.Fatalf("got %q %v, want %q %q", p, err, c.phase, c.err)
			}
		})
	}
}

func TestFind(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if _, ok := Find(ctx, dir, nil); ok {
		t.Fatal("found a server without server.json")
	}
	s := fakeServer(t)
	if err := datadir.WriteServerInfo(dir, datadir.ServerInfo{HTTP: strings.TrimPrefix(s.URL, "http://")}); err != nil {
		t.Fatal(err)
	}
	if url, ok := Find(ctx, dir, s.Client()); !ok || url != s.URL {
		t.Fatalf("Find: %q %v, want %q", url, ok, s.URL)
	}
	// A server that left its file behind and is gone is not found.
	s.Close()
	if _, ok := Find(ctx, dir, nil); ok {
		t.Fatal("found a stopped server")
	}
}

func TestActOffline(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if _, _, err := ActOffline(ctx, dir+"/none", scoreboard.ActStart, nil); err == nil || !strings.Contains(err.Error(), "no exercise in") {
		t.Fatalf("no directory: %v", err)
	}
	sc, err := scenarios.Builtin("demo")
	if err != nil {
		t.Fatal(err)
	}
	d, err := exercisedb.Open(ctx, dir, exercisedb.Options{Scenario: sc})
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	p, frozen, err := ActOffline(ctx, dir, scoreboard.ActStart, nil)
	if err != nil || p != scoreboard.PhaseRunning || frozen {
		t.Fatalf("start: %v %v %v", p, frozen, err)
	}
	// The directory is locked while a server (here, this lock) holds it.
	lock, err := datadir.Acquire(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()
	if _, _, err := ActOffline(ctx, dir, scoreboard.ActPause, nil); !errors.Is(err, scoreboard.ErrConflict) {
		t.Fatalf("while held: %v", err)
	}
}
