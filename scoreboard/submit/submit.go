// Package submit is the game's flag submission front doors: the TCP line
// protocol of PROTOCOLS.md §1 and the farm-compatible HTTP endpoint of §2,
// both judged by a scoreboard.Game and throttled by one per-team Limiter.
// It also holds the load generator behind `cyrange bench submit`.
//
// Throughput matters more here than anywhere else in the game: a flag is
// acknowledged only once durable, so both doors hand flags to the judge in
// batches, and the TCP door keeps several batches of one connection in
// flight while it writes the replies of earlier ones in order.
//
// This package must never import echo (the web package mounts the HTTP
// handler with echo.WrapHandler), bbolt or the Docker SDK.
package submit

import (
	"context"
	"net/netip"

	"github.com/cyrange/cyrange/scoreboard"
	"github.com/cyrange/cyrange/scoreboard/tokens"
)

// Judge decides what each submitted flag is worth. *scoreboard.Game
// implements it.
type Judge interface {
	// Submit returns one verdict per flag, in order; its error is non-nil
	// only when the team may not submit at all (scoreboard.ErrForbidden
	// for a team that does not attack).
	Submit(ctx context.Context, team int, flags [][]byte) ([]scoreboard.Verdict, error)
	// TeamByAddr returns the team whose network holds addr.
	TeamByAddr(addr netip.Addr) (int, bool)
	// PhaseError says why no flag is taken now, or "" when flags are taken.
	PhaseError() string
}

// Authenticator resolves tokens. *tokens.Set implements it.
type Authenticator interface {
	Lookup(token string) (tokens.Principal, error)
}

var (
	_ Judge         = (*scoreboard.Game)(nil)
	_ Authenticator = (*tokens.Set)(nil)
)

// Observer counts n verdicts of one code; the metrics layer plugs in here.
// It is called from many goroutines at once.
type Observer func(code scoreboard.Code, n int)

// Texts shared by both doors. The farms match replies by substring, so
// every one of them keeps the key words of PROTOCOLS.md §1.
const (
	msgRateLimited  = "too many flags, try again later"
	msgOrganizer    = "the organizer token cannot submit flags: use a team token"
	msgNoAttack     = "this team only defends and cannot submit flags"
	msgSubmitFailed = "submission failed, try again later"
)

// MaxLine is the longest line the TCP door accepts, without its "\r\n".
const MaxLine = 200

// MaxHTTPFlags is the most flags one HTTP request may carry.
const MaxHTTPFlags = 1000

// flagShaped reports whether b looks like a flag at all
// ([A-Z0-9]{31}=); anything else is invalid without asking the judge.
func flagShaped(b []byte) bool {
	if len(b) != scoreboard.FlagLen || b[len(b)-1] != '=' {
		return false
	}
	for _, c := range b[:len(b)-1] {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// tally counts verdicts by code so that Observe is called once per code
// and batch, not once per flag.
type tally [scoreboard.CodeERR + 1]int

func (t *tally) add(c scoreboard.Code, n int) {
	if int(c) >= len(t) {
		c = scoreboard.CodeERR
	}
	t[c] += n
}

func (t *tally) report(o Observer) {
	if o == nil {
		return
	}
	for c, n := range t {
		if n > 0 {
			o(scoreboard.Code(c), n)
		}
	}
}
