package live

import (
	"github.com/cyrange/cyrange/scoreboard"
)

// KindLog is the kind of a target log line on a team's stream.
const KindLog = "log"

// logQueue is one team's log lines between two flushes: a ring that keeps
// the newest lines and counts the ones it had to drop.
type logQueue struct {
	buf     []scoreboard.TickerItem
	start   int
	n       int
	dropped int
}

func (q *logQueue) push(it scoreboard.TickerItem, capacity int) {
	if q.buf == nil {
		q.buf = make([]scoreboard.TickerItem, capacity)
	}
	if q.n == len(q.buf) {
		// Full: the oldest line makes room, so the console sees what
		// happens now rather than what happened a while ago.
		q.buf[q.start] = it
		q.start = (q.start + 1) % len(q.buf)
		q.dropped++
		return
	}
	q.buf[(q.start+q.n)%len(q.buf)] = it
	q.n++
}

// appendTo appends the lines, oldest first.
func (q *logQueue) appendTo(out []scoreboard.TickerItem) []scoreboard.TickerItem {
	for i := 0; i < q.n; i++ {
		out = append(out, q.buf[(q.start+i)%len(q.buf)])
	}
	return out
}

func (q *logQueue) reset() {
	clear(q.buf)
	q.start, q.n, q.dropped = 0, 0, 0
}

// PublishLog queues one line of a target's log for the private stream of
// team, the defending team that owns the target; the item's Kind is set
// to "log". It never blocks and may be called from any goroutine: lines
// wait in a bounded queue per team for the next message, the oldest
// dropped (and counted) when the queue is full. Lines for a team nobody
// watches are discarded at the next flush.
func (h *Hub) PublishLog(team int, it scoreboard.TickerItem) {
	it.Kind = KindLog
	h.logMu.Lock()
	q := h.logs[team]
	if q == nil {
		q = &logQueue{}
		h.logs[team] = q
	}
	q.push(it, h.logLen)
	h.logMu.Unlock()
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// takeLogs hands the queued lines to the flush, which gives them back
// with releaseLogs: the queues are reused, so a steady stream of lines
// allocates nothing.
func (h *Hub) takeLogs() map[int]*logQueue {
	h.logMu.Lock()
	defer h.logMu.Unlock()
	taken := h.logs
	h.logs = h.logSpare
	h.logSpare = nil
	if h.logs == nil {
		h.logs = map[int]*logQueue{}
	}
	dropped := 0
	for _, q := range taken {
		dropped += q.dropped
	}
	if dropped > 0 && h.obs.LogsDropped != nil {
		h.obs.LogsDropped(dropped)
	}
	return taken
}

func (h *Hub) releaseLogs(taken map[int]*logQueue) {
	for _, q := range taken {
		q.reset()
	}
	h.logMu.Lock()
	if h.logSpare == nil {
		h.logSpare = taken
	}
	h.logMu.Unlock()
}
