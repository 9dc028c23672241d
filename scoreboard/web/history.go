package web

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/cyrange/cyrange/scoreboard"
)

// history is the board over time, folded from the event log with the
// game's own fold so that every point is what the board showed then. The
// game keeps only the present; charts and status strips need the past,
// and a page that loads late must still draw it.
//
// It folds incrementally: each request applies only the events appended
// since the last one.
type history struct {
	log EventLog
	cfg *scoreboard.Config

	mu   sync.Mutex
	st   *scoreboard.State
	next uint64 // the next sequence to fold
	// points has one entry per tick start, one at the freeze and one at
	// the end.
	points []histPoint
	// frozenPoints is how many points the public may see while the board
	// is frozen (-1 when it is not); frozenStatus is the status history
	// of that moment.
	frozenPoints int
	frozenStatus map[[2]int16][]scoreboard.TickStatus
	cache        histCache
}

// histPoint is every team's total at one moment, by team index.
type histPoint struct {
	Tick   int32     `json:"tick"`
	Time   time.Time `json:"time"`
	Totals []float64 `json:"totals"`
}

type histCache struct {
	next uint64
	body []byte
}

// historyBody is the answer of GET /api/v1/history.
type historyBody struct {
	// Frozen says the points stop at the freeze.
	Frozen bool `json:"frozen"`
	// Teams names the teams in the order of every point's totals.
	Teams  []string    `json:"teams"`
	Points []histPoint `json:"points"`
	// Status is owner → service → the statuses of the last ticks, oldest
	// first.
	Status map[string]map[string][]scoreboard.TickStatus `json:"status"`
}

func newHistory(log EventLog, cfg *scoreboard.Config) *history {
	return &history{log: log, cfg: cfg, st: scoreboard.NewState(cfg), next: 1, frozenPoints: -1}
}

// update folds the events appended since the last call. The caller holds
// h.mu.
func (h *history) update(ctx context.Context) error {
	err := h.log.Iterate(ctx, h.next, func(seq uint64, rec []byte) error {
		e, err := scoreboard.Decode(seq, rec)
		if err != nil {
			return err
		}
		wasFrozen := h.st.Frozen
		// An event the fold refuses changed nothing in the game either
		// (the game logs it and goes on): skip it the same way.
		if _, err := h.st.Apply(&e); err == nil {
			h.observe(&e, wasFrozen)
		}
		h.next = seq + 1
		return nil
	})
	if err != nil {
		return fmt.Errorf("web: folding the event log for the history: %w", err)
	}
	return nil
}

// observe records the points an applied event makes.
func (h *history) observe(e *scoreboard.Event, wasFrozen bool) {
	switch e.Kind {
	case scoreboard.KindTickStarted:
		h.point(e.Tick, e.Time)
	case scoreboard.KindPhaseChanged:
		switch {
		case h.st.Phase == scoreboard.PhaseEnded:
			h.point(h.st.Tick, e.Time)
			h.frozenPoints, h.frozenStatus = -1, nil
		case h.st.Frozen && !wasFrozen:
			h.point(h.st.Tick, e.Time)
			h.frozenPoints = len(h.points)
			h.frozenStatus = map[[2]int16][]scoreboard.TickStatus{}
			for k, r := range h.st.Replicas {
				h.frozenStatus[k] = append([]scoreboard.TickStatus(nil), r.History...)
			}
		}
	}
}

func (h *history) point(tick int32, at time.Time) {
	p := histPoint{Tick: tick, Time: at, Totals: make([]float64, len(h.cfg.Teams))}
	for _, s := range h.st.Standings() {
		p.Totals[s.TeamID] = math.Round(s.Total*1000) / 1000
	}
	h.points = append(h.points, p)
}

// publicJSON returns the history the audience may see, encoded.
func (h *history) publicJSON(ctx context.Context) ([]byte, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.update(ctx); err != nil {
		return nil, err
	}
	if c := h.cache; c.body != nil && c.next == h.next {
		return c.body, nil
	}
	b := historyBody{Teams: make([]string, len(h.cfg.Teams)), Points: h.points,
		Status: map[string]map[string][]scoreboard.TickStatus{}}
	for i, t := range h.cfg.Teams {
		b.Teams[i] = t.Name
	}
	status := h.liveStatus()
	if h.frozenPoints >= 0 {
		b.Frozen = true
		b.Points = h.points[:h.frozenPoints]
		status = h.frozenStatus
	}
	for k, hist := range status {
		owner, svc := h.cfg.Teams[k[0]].Name, h.cfg.Services[k[1]].Name
		if b.Status[owner] == nil {
			b.Status[owner] = map[string][]scoreboard.TickStatus{}
		}
		b.Status[owner][svc] = hist
	}
	if b.Points == nil {
		b.Points = []histPoint{}
	}
	body, err := json.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("web: encoding the history: %w", err)
	}
	h.cache = histCache{next: h.next, body: body}
	return body, nil
}

func (h *history) liveStatus() map[[2]int16][]scoreboard.TickStatus {
	out := make(map[[2]int16][]scoreboard.TickStatus, len(h.st.Replicas))
	for k, r := range h.st.Replicas {
		out[k] = r.History
	}
	return out
}

// replicaHistory returns the status history of owner's replica of
// service, never frozen: a team always sees its own.
func (h *history) replicaHistory(ctx context.Context, owner, service int) ([]scoreboard.TickStatus, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.update(ctx); err != nil {
		return nil, err
	}
	out := []scoreboard.TickStatus{}
	if r := h.st.Replicas[[2]int16{int16(owner), int16(service)}]; r != nil {
		out = append(out, r.History...)
	}
	return out, nil
}
