package scoreboard

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// maxRemedy bounds a remedy's description.
const maxRemedy = 512

// RecordRemedy records that the defence applied remedy on service of
// owner's replica at at (the time the target logged it; a zero or future
// time means now), so that the after-action report shows what was fixed
// when. It returns once the event is durable.
//
// Errors: ErrInvalid for an unknown replica or an empty remedy.
func (g *Game) RecordRemedy(ctx context.Context, owner, service int, at time.Time, remedy string) error {
	if owner < 0 || owner >= len(g.cfg.Teams) || !g.cfg.Teams[owner].Role.Defends() ||
		service < 0 || service >= len(g.cfg.Services) {
		return fmt.Errorf("scoreboard: remedy on replica (%d, %d): %w", owner, service, ErrInvalid)
	}
	remedy = strings.TrimSpace(strings.ToValidUTF8(remedy, "?"))
	if remedy == "" {
		return fmt.Errorf("scoreboard: empty remedy: %w", ErrInvalid)
	}
	for len(remedy) > maxRemedy {
		_, n := utf8.DecodeLastRuneInString(remedy)
		remedy = remedy[:len(remedy)-n]
	}
	now := g.now()
	if at.IsZero() || at.After(now) {
		at = now
	}
	g.mu.RLock()
	tick := g.st.Tick
	g.mu.RUnlock()
	ev := Event{Time: at, Kind: KindRemedyApplied, Tick: tick, Team: -1, Owner: int16(owner), Service: int16(service),
		Store: -1, Text: remedy}
	_, err := g.append(ctx, []Event{ev})
	return err
}

// RemediesUpTo is the time of the latest remedy recorded on the replica:
// a collector that restarts and reads the target's log again skips the
// remedies up to it.
func (g *Game) RemediesUpTo(owner, service int) time.Time {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.st.RemedyUpTo[[2]int16{int16(owner), int16(service)}]
}
