package live

import (
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/cyrange/cyrange/internal/persource"
)

// viewer is one websocket connection. Only the hub goroutine sends on or
// closes send; closeCode is written before send is closed and read after.
type viewer struct {
	key       audKey
	src       netip.Prefix
	conn      *websocket.Conn
	send      chan *websocket.PreparedMessage
	closeCode int
}

// ServePublic upgrades r and streams the public board (/api/v1/live).
func (h *Hub) ServePublic(w http.ResponseWriter, r *http.Request) {
	h.serve(w, r, audKey{kind: audPublic})
}

// ServeTeam upgrades r and streams team's private board
// (/api/v1/team/live): its own standing, replicas and ticker items. The
// caller has authenticated the team.
func (h *Hub) ServeTeam(w http.ResponseWriter, r *http.Request, team int) {
	if team < 0 {
		http.Error(w, "live: no such team", http.StatusNotFound)
		return
	}
	h.serve(w, r, audKey{kind: audTeam, team: team})
}

// ServeAdmin upgrades r and streams the unfrozen board with every ticker
// item (/api/v1/admin/live). The caller has authenticated the organizer.
func (h *Hub) ServeAdmin(w http.ResponseWriter, r *http.Request) {
	h.serve(w, r, audKey{kind: audAdmin})
}

// serve upgrades and hands the connection to two goroutines of its own,
// then returns: the HTTP server's per-connection buffers are freed instead
// of living as long as the viewer.
func (h *Hub) serve(w http.ResponseWriter, r *http.Request, k audKey) {
	src := persource.Of(r.RemoteAddr)
	if !h.enter(k, src) {
		w.Header().Set("Retry-After", "10")
		http.Error(w, "live: too many viewers or shutting down", http.StatusServiceUnavailable)
		return
	}
	conn, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		// Upgrade has answered the client already.
		h.exit(k, src)
		return
	}
	v := &viewer{key: k, src: src, conn: conn, send: make(chan *websocket.PreparedMessage, h.queueLen)}
	go h.runViewer(v)
}

func (h *Hub) runViewer(v *viewer) {
	defer h.exit(v.key, v.src)
	defer v.conn.Close()
	select {
	case h.register <- v:
	case <-h.done:
		h.writeClose(v.conn, websocket.CloseGoingAway)
		return
	}
	written := make(chan struct{})
	go func() {
		defer close(written)
		h.writeLoop(v)
	}()
	h.readLoop(v.conn)
	select {
	case h.unregister <- v:
	case <-h.done:
		// The hub closed every queue on its way out.
	}
	<-written
}

// readLoop reads until the connection fails: viewers send nothing but
// control frames, which the handlers deal with.
func (h *Hub) readLoop(c *websocket.Conn) {
	wait := h.ping + h.writeTO
	c.SetReadLimit(readLimit)
	_ = c.SetReadDeadline(time.Now().Add(wait))
	c.SetPongHandler(func(string) error { return c.SetReadDeadline(time.Now().Add(wait)) })
	for {
		if _, _, err := c.NextReader(); err != nil {
			return
		}
	}
}

// writeLoop writes the viewer's queue and pings until the queue is closed
// or a write fails; it closes the connection on the way out so that the
// read loop ends too.
func (h *Hub) writeLoop(v *viewer) {
	t := time.NewTicker(h.ping)
	defer t.Stop()
	defer v.conn.Close()
	var deadline time.Time
	for {
		select {
		case pm, ok := <-v.send:
			if !ok {
				h.writeClose(v.conn, v.closeCode)
				return
			}
			// Moving the deadline costs a timer update, and a write
			// per viewer per frame is the hot path: keep the deadline
			// between half and all of WriteTimeout ahead.
			if now := time.Now(); deadline.Sub(now) < h.writeTO/2 {
				deadline = now.Add(h.writeTO)
				_ = v.conn.SetWriteDeadline(deadline)
			}
			if err := v.conn.WritePreparedMessage(pm); err != nil {
				return
			}
		case <-t.C:
			if err := v.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(h.writeTO)); err != nil {
				return
			}
		}
	}
}

func (h *Hub) writeClose(c *websocket.Conn, code int) {
	if code == 0 {
		code = websocket.CloseNormalClosure
	}
	_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, ""), time.Now().Add(time.Second))
}

func (h *Hub) checkOrigin(r *http.Request) bool { return OriginAllowed(r, h.allowed) }

// OriginAllowed reports whether a browser request (a websocket handshake,
// a form post) comes from the server's own pages or from an allowed
// origin: an entry "*", a host ("board.example:8080") or an origin
// ("https://board.example"). A request without Origin is allowed:
// browsers always send it on a websocket handshake and on unsafe methods,
// so its absence means a program, which no victim's cookie rides on. The
// web server checks its requests with it too, so that one allowed-origins
// list means the same everywhere.
func OriginAllowed(r *http.Request, allowed []string) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	return originAllowed(origin, r.Host, allowed)
}

// originAllowed reports whether a browser at origin may act on host: the
// same host always may, others only when listed.
func originAllowed(origin, host string, allowed []string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	if strings.EqualFold(u.Host, host) {
		return true
	}
	for _, a := range allowed {
		switch {
		case a == "*":
			return true
		case strings.Contains(a, "://"):
			if strings.EqualFold(strings.TrimSuffix(a, "/"), u.Scheme+"://"+u.Host) {
				return true
			}
		case strings.EqualFold(a, u.Host):
			return true
		}
	}
	return false
}
