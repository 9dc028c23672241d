package live

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// dialerFrom dials from a loopback address of its own: a source of its
// own to the hub's per-source bound.
func dialerFrom(local string) *websocket.Dialer {
	return &websocket.Dialer{HandshakeTimeout: 10 * time.Second,
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
			return d.DialContext(ctx, network, addr)
		}}
}

// dialFrom opens a stream from local; it returns the status of a refused
// handshake, or 0 and the client.
func (e *env) dialFrom(local, path string) (int, *tclient) {
	e.t.Helper()
	c, resp, err := dialerFrom(local).Dial(e.ws+path, nil)
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		if resp == nil {
			e.t.Fatalf("dialing %s from %s: %v", path, local, err)
		}
		return resp.StatusCode, nil
	}
	e.t.Cleanup(func() { _ = c.Close() })
	return 0, &tclient{t: e.t, conn: c}
}

// TestPrivateStreamsHaveTheirOwnCapacity fills the public stream to its
// bound and expects the organizer's and the defence's streams to open
// all the same (and the public to be refused).
func TestPrivateStreamsHaveTheirOwnCapacity(t *testing.T) {
	e := newEnv(t, newFakeSource(), Options{MaxViewers: 4})
	for i := 0; i < 4; i++ {
		c := e.dial("/api/v1/live", nil)
		if m := c.next(); m.Type != TypeSnapshot {
			t.Fatalf("public viewer %d: %+v", i, m)
		}
	}
	if code, _ := e.dialFrom("127.0.0.1", "/api/v1/live"); code != http.StatusServiceUnavailable {
		t.Fatalf("a public viewer past the bound: %d, want 503", code)
	}
	for _, path := range []string{"/api/v1/admin/live", "/api/v1/team/live?team=2", "/api/v1/team/live?team=0"} {
		code, c := e.dialFrom("127.0.0.1", path)
		if code != 0 {
			t.Fatalf("%s while the public stream is full: %d", path, code)
		}
		if m := c.next(); m.Type != TypeSnapshot {
			t.Fatalf("%s: %+v", path, m)
		}
	}
}

// TestPublicViewersPerSource: one source holds at most its share of the
// public stream, other sources still get in, and a place comes back when
// a viewer leaves.
func TestPublicViewersPerSource(t *testing.T) {
	e := newEnv(t, newFakeSource(), Options{MaxViewers: 10, MaxViewersPerSource: 2})
	var mine []*tclient
	for i := 0; i < 2; i++ {
		code, c := e.dialFrom("127.0.0.1", "/api/v1/live")
		if code != 0 {
			t.Fatalf("viewer %d of a source: %d", i, code)
		}
		c.next()
		mine = append(mine, c)
	}
	if code, _ := e.dialFrom("127.0.0.1", "/api/v1/live"); code != http.StatusServiceUnavailable {
		t.Fatalf("a third viewer from one source: %d, want 503", code)
	}
	if code, c := e.dialFrom("127.0.0.2", "/api/v1/live"); code != 0 {
		t.Fatalf("another source: %d", code)
	} else {
		c.next()
	}
	// The private streams are not the public's: no per-source share.
	for i := 0; i < 3; i++ {
		if code, _ := e.dialFrom("127.0.0.1", "/api/v1/admin/live"); code != 0 {
			t.Fatalf("organizer stream %d from a source at its public share: %d", i, code)
		}
	}
	_ = mine[0].conn.Close()
	waitFor(t, "the source's place back", func() bool {
		code, c := e.dialFrom("127.0.0.1", "/api/v1/live")
		if c != nil {
			_ = c.conn.Close()
		}
		return code == 0
	})
}

// TestTeamStreamBound: a team that opens its own stream over and over
// fills only its own share; the defence's and the organizer's streams
// still open.
func TestTeamStreamBound(t *testing.T) {
	e := newEnv(t, newFakeSource(), Options{MaxTeamViewers: 3, MaxAdminViewers: 2})
	for i := 0; i < 3; i++ {
		if code, c := e.dialFrom("127.0.0.1", "/api/v1/team/live?team=0"); code != 0 {
			t.Fatalf("team stream %d: %d", i, code)
		} else {
			c.next()
		}
	}
	if code, _ := e.dialFrom("127.0.0.1", "/api/v1/team/live?team=0"); code != http.StatusServiceUnavailable {
		t.Fatalf("a team stream past its bound: %d, want 503", code)
	}
	for _, path := range []string{"/api/v1/team/live?team=2", "/api/v1/team/live?team=1", "/api/v1/admin/live", "/api/v1/admin/live", "/api/v1/live"} {
		if code, c := e.dialFrom("127.0.0.1", path); code != 0 {
			t.Fatalf("%s while team 0's stream is full: %d", path, code)
		} else {
			c.next()
		}
	}
	if code, _ := e.dialFrom("127.0.0.1", "/api/v1/admin/live"); code != http.StatusServiceUnavailable {
		t.Fatalf("an organizer stream past its bound: %d, want 503", code)
	}
}
