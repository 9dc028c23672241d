package gateway

import (
	"errors"
	"io"
	"net"

	socks5 "github.com/armon/go-socks5"

	"github.com/cyrange/cyrange/internal/admit"
)

// authenticator is the team's SOCKS5 user/password check (RFC 1929,
// go-socks5's own), which also takes the connection out of the pool of
// strangers once it has proved it is the team's, so that no flood of
// strangers can push it out any more.
type authenticator struct{ s *server }

func (authenticator) GetCode() uint8 { return socks5.UserPassAuth }

// Authenticate is handed, as w, the connection go-socks5 serves.
func (a authenticator) Authenticate(r io.Reader, w io.Writer) (*socks5.AuthContext, error) {
	c, _ := w.(net.Conn)
	check := credentialsFunc(func(user, password string) bool {
		return c != nil && credentials{a.s.g}.Valid(user, password) && a.s.authenticated(c)
	})
	return socks5.UserPassAuthenticator{Credentials: check}.Authenticate(r, w)
}

type credentialsFunc func(user, password string) bool

func (f credentialsFunc) Valid(user, password string) bool { return f(user, password) }

// authenticated moves c, whose client has just given the team's
// credentials, among the team's sessions, and gives it the rest of
// HandshakeTimeout to ask for its target. It reports false when the team
// holds MaxConns sessions already, or when c was pushed out meanwhile.
func (s *server) authenticated(c net.Conn) bool {
	s.mu.Lock()
	ss := s.sessions[addrPortOf(c.RemoteAddr())]
	s.mu.Unlock()
	if ss == nil || ss.client != c {
		return false
	}
	switch err := ss.ticket.Authenticate(0); {
	case errors.Is(err, admit.ErrTooMany):
		s.g.logger.Warn("gateway: too many sessions, refusing one more", "client", c.RemoteAddr().String(), "max", s.g.o.MaxConns)
		return false
	case err != nil:
		return false
	}
	c.SetDeadline(ss.accepted.Add(s.g.o.HandshakeTimeout))
	return true
}
