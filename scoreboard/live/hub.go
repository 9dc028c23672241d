// Package live streams the scoreboard over websockets (PROTOCOLS.md §4): a
// snapshot first, then at most one message per coalescing interval with
// whatever changed, to the public, to each team and to the organizer.
//
// The hub diffs the board the game shows each audience against the board
// it last sent that audience, so the freeze is honoured by construction: a
// frozen public view does not change, hence produces no score deltas. Each
// message is encoded once per audience and shared by all its viewers; a
// viewer whose bounded queue is full is dropped and never slows the others.
//
// Notes for stream clients (the web UI):
//   - Every message carries seq, the stream's own counter: the snapshot has
//     the seq of the last message sent before it, each later message seq+1.
//     A client that sees a gap has missed something and must reconnect to
//     get a fresh snapshot.
//   - Deltas carry only changed standings entries (whole entries, keyed by
//     teamId) and changed status cells; merge them into the snapshot.
//   - events lists the ticker items since the previous message; skipped, when
//     present, counts items left out because too many arrived at once.
//   - at is when the server applied the first change the message carries
//     (unix nanoseconds); clients may ignore it. Public messages carry
//     none while the board is frozen: the first change of a flush may be
//     one the freeze hides.
//   - While the board is frozen the public ticker shows the phase changes
//     numbered in the frozen board's own count (scoreboard.FrozenBoard),
//     so no seq the public sees moves with what the freeze hides.
//   - A defending team's stream also carries its targets' log lines as
//     events of kind "log" (service, source, text, time; see PublishLog).
//     They come through a bounded queue per team: when lines arrive faster
//     than the stream sends them, the oldest are dropped and the next
//     message says how many in logsDropped. A target or the game never
//     waits for a console.
//
// Each audience counts against a bound of its own — the public stream's,
// with a share per source address, each team's and the organizer's — so
// that an audience filling the public stream never keeps a team or the
// organizer out, and a team fills only its own.
//
// Authentication is the web package's job: it calls ServePublic, ServeTeam
// or ServeAdmin only for a caller entitled to that audience. This package
// must never import echo, bbolt, the store or the Docker SDK.
package live

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/cyrange/cyrange/internal/persource"
	"github.com/cyrange/cyrange/scoreboard"
)

// Source is the game as the hub sees it; *scoreboard.Game satisfies it.
type Source interface {
	PublicView() scoreboard.View
	FullView() scoreboard.View
	Subscribe(scoreboard.Listener)
}

var _ Source = (*scoreboard.Game)(nil)

// Observer receives the hub's figures; every field may be nil. The calls
// come from the hub goroutine and must return quickly.
type Observer struct {
	// Viewers reports how many viewers an audience ("public", "team",
	// "admin") has, after every change.
	Viewers func(audience string, n int)
	// FanOut reports, for each flush that sent something, the time from
	// the first change it carries to its frames being queued for every
	// viewer.
	FanOut func(d time.Duration)
	// Frame reports one frame sent to an audience: its size and how many
	// viewers it was queued for.
	Frame func(audience string, bytes, viewers int)
	// Dropped reports a viewer closed because its queue was full.
	Dropped func(audience string)
	// LogsDropped reports target log lines dropped because a team's
	// queue was full.
	LogsDropped func(n int)
}

// Options configure a Hub. Only Source is required.
type Options struct {
	Source Source
	Logger *slog.Logger
	// Now stamps changes ("at"); the real clock is used for network
	// deadlines and for the coalescing period. Clients measure latency
	// against "at", so production keeps the real clock here too.
	Now func() time.Time
	// Interval is the coalescing period: at most one message per
	// audience per Interval. Default 100ms.
	Interval time.Duration
	// QueueLen bounds each viewer's queue of frames. Default 16.
	QueueLen int
	// WriteTimeout bounds every write to a viewer. Default 10s.
	WriteTimeout time.Duration
	// PingInterval is how often viewers are pinged; a viewer that answers
	// no ping for PingInterval+WriteTimeout is closed. Default 30s.
	PingInterval time.Duration
	// MaxViewers bounds the public stream's viewers; beyond it
	// connections get 503. The private streams have bounds of their own
	// (MaxTeamViewers, MaxAdminViewers), so that an audience filling the
	// public stream never keeps the organizer or a team out. Default
	// 16384.
	MaxViewers int
	// MaxViewersPerSource bounds the public viewers from one source
	// address (an IPv6 /64), so that one machine cannot take the public
	// stream from everyone. A venue's audience behind one NAT address is
	// one source: keep it generous. Default 1024.
	MaxViewersPerSource int
	// MaxTeamViewers bounds the viewers of each team's stream: a team can
	// fill only its own. Default 64.
	MaxTeamViewers int
	// MaxAdminViewers bounds the viewers of the organizer's stream.
	// Default 64.
	MaxAdminViewers int
	// MaxEvents bounds the ticker items one flush carries; the rest are
	// counted in "skipped". Default 256. Public messages carry at most
	// the newest 32 of them.
	MaxEvents int
	// AllowedOrigins lists the browser origins ("https://board.example")
	// or hosts ("board.example:8443") allowed besides the server's own
	// host; "*" allows any. Requests without an Origin header (not from
	// a browser) are allowed.
	AllowedOrigins []string
	// LogQueue bounds each team's queue of target log lines between two
	// messages; past it the oldest are dropped. Default 256.
	LogQueue int
	Observe  Observer
}

// Defaults of Options.
const (
	DefaultInterval     = 100 * time.Millisecond
	DefaultQueueLen     = 16
	DefaultWriteTimeout = 10 * time.Second
	DefaultPingInterval = 30 * time.Second
	DefaultMaxViewers   = 16384
	// DefaultMaxViewersPerSource leaves room for a hall of phones and
	// wall screens behind one address.
	DefaultMaxViewersPerSource = 1024
	DefaultMaxTeamViewers      = 64
	DefaultMaxAdminViewers     = 64
	DefaultMaxEvents           = 256
	DefaultLogQueue            = 256
)

// publicEvents bounds the ticker items of one public message; the rest
// are counted in "skipped".
const publicEvents = 32

// readLimit bounds what a viewer may send: viewers only answer pings and
// close, so anything larger is abuse.
const readLimit = 512

// Hub owns the viewers and the last board sent to each audience. Run must
// be running for viewers to be served.
type Hub struct {
	src      Source
	logger   *slog.Logger
	now      func() time.Time
	interval time.Duration
	queueLen int
	writeTO  time.Duration
	ping     time.Duration
	maxView  int
	maxTeam  int
	maxAdmin int
	maxEv    int
	allowed  []string
	obs      Observer
	upgrader websocket.Upgrader

	// Filled by the listener on the game's committer goroutine; guarded
	// by mu, which is never held for more than a few appends.
	mu        sync.Mutex
	pending   []entry
	skipped   int
	pendingAt time.Time
	lastSeq   uint64
	wake      chan struct{}

	register   chan *viewer
	unregister chan *viewer
	started    atomic.Bool
	done       chan struct{}

	// logs holds each team's target log lines until the next flush;
	// guarded by logMu, never held for more than a copy.
	logMu    sync.Mutex
	logs     map[int]*logQueue
	logSpare map[int]*logQueue
	logLen   int // the queues' capacity

	// life guards stopped, the WaitGroup's Add against Run's Wait, and
	// the viewer counts against each audience's bound.
	life      sync.Mutex
	stopped   bool
	wg        sync.WaitGroup
	nPublic   int
	nAdmin    int
	nTeam     map[int]int
	perSource *persource.Counter // public viewers per source

	// Owned by the hub goroutine.
	auds   map[audKey]*audience
	hwm    uint64
	totals [3]int
	spare  []entry
}

// entry is one ticker item waiting for the next flush. A private entry is
// a detection verdict the public never sees; its item is completed at
// flush time (the listener must stay cheap).
type entry struct {
	item    scoreboard.TickerItem
	private bool
	team    int16
	code    uint8
}

// NewHub returns a hub subscribed to o.Source.
func NewHub(o Options) *Hub {
	h := &Hub{src: o.Source, logger: o.Logger, now: o.Now, interval: o.Interval, queueLen: o.QueueLen,
		writeTO: o.WriteTimeout, ping: o.PingInterval, maxView: o.MaxViewers, maxTeam: o.MaxTeamViewers,
		maxAdmin: o.MaxAdminViewers, maxEv: o.MaxEvents, nTeam: map[int]int{},
		allowed: o.AllowedOrigins, obs: o.Observe, logLen: o.LogQueue, logs: map[int]*logQueue{},
		wake: make(chan struct{}, 1), register: make(chan *viewer), unregister: make(chan *viewer),
		done: make(chan struct{}), auds: map[audKey]*audience{}}
	if h.logger == nil {
		h.logger = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.interval <= 0 {
		h.interval = DefaultInterval
	}
	if h.queueLen <= 0 {
		h.queueLen = DefaultQueueLen
	}
	if h.writeTO <= 0 {
		h.writeTO = DefaultWriteTimeout
	}
	if h.ping <= 0 {
		h.ping = DefaultPingInterval
	}
	if h.maxView <= 0 {
		h.maxView = DefaultMaxViewers
	}
	if h.maxTeam <= 0 {
		h.maxTeam = DefaultMaxTeamViewers
	}
	if h.maxAdmin <= 0 {
		h.maxAdmin = DefaultMaxAdminViewers
	}
	perSource := o.MaxViewersPerSource
	if perSource <= 0 {
		perSource = DefaultMaxViewersPerSource
	}
	h.perSource = persource.NewCounter(perSource)
	if h.maxEv <= 0 {
		h.maxEv = DefaultMaxEvents
	}
	if h.logLen <= 0 {
		h.logLen = DefaultLogQueue
	}
	h.upgrader = websocket.Upgrader{
		// Small buffers: viewers send nothing but control frames, and
		// prepared messages are written without a write buffer, so the
		// pool only serves the rare NextWriter.
		ReadBufferSize:  256,
		WriteBufferSize: 512,
		WriteBufferPool: &sync.Pool{},
		CheckOrigin:     h.checkOrigin,
	}
	h.src.Subscribe(h.listen)
	return h
}

// listen runs on the game's committer goroutine: it only records what
// arrived and pokes the hub.
func (h *Hub) listen(evs []scoreboard.Event, applied []scoreboard.Applied) {
	now := h.now()
	h.mu.Lock()
	if h.pendingAt.IsZero() {
		h.pendingAt = now
	}
	for i := range evs {
		e := &evs[i]
		if e.Seq > h.lastSeq {
			h.lastSeq = e.Seq
		}
		if i < len(applied) {
			for _, it := range applied[i].Items {
				h.push(entry{item: it})
			}
		}
		if e.Kind == scoreboard.KindDetectionJudged && e.Code != scoreboard.VerdictTrue && e.Code != scoreboard.VerdictPending {
			// A confirmed detection is already a public ticker item;
			// the other verdicts only concern the team.
			h.push(entry{private: true, team: e.Team, code: e.Code,
				item: scoreboard.TickerItem{Seq: e.Seq, Time: e.Time, Kind: "detection", Text: e.Text}})
		}
	}
	h.mu.Unlock()
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// push appends under h.mu; past MaxEvents it only counts.
func (h *Hub) push(e entry) {
	if len(h.pending) >= h.maxEv {
		h.skipped++
		return
	}
	h.pending = append(h.pending, e)
}

// Run serves the hub until ctx is done, then closes every viewer and waits
// for their goroutines. It may be called once.
func (h *Hub) Run(ctx context.Context) error {
	if !h.started.CompareAndSwap(false, true) {
		return fmt.Errorf("live: hub already running: %w", scoreboard.ErrConflict)
	}
	defer h.shutdown()
	h.start()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	var due <-chan time.Time
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case v := <-h.register:
			h.add(v)
		case v := <-h.unregister:
			h.remove(v, false)
		case <-h.wake:
			if due != nil {
				continue
			}
			// Leading edge: a lone change goes out at once; changes
			// that follow within the interval wait for the timer and
			// leave together.
			if d := h.interval - time.Since(last); d > 0 {
				timer.Reset(d)
				due = timer.C
				continue
			}
			h.flush()
			last = time.Now()
		case <-due:
			due = nil
			h.flush()
			last = time.Now()
		}
	}
}

// start forgets what the listener heard before Run: the first view
// already shows it.
func (h *Hub) start() {
	h.mu.Lock()
	h.pending = h.pending[:0]
	h.skipped = 0
	h.pendingAt = time.Time{}
	h.mu.Unlock()
	v := h.src.FullView()
	h.mu.Lock()
	last := h.lastSeq
	h.mu.Unlock()
	h.hwm = max(v.Seq, last)
}

func (h *Hub) shutdown() {
	h.life.Lock()
	h.stopped = true
	close(h.done)
	h.life.Unlock()
	for _, a := range h.auds {
		for v := range a.viewers {
			v.closeCode = websocket.CloseGoingAway
			close(v.send)
		}
		a.viewers = nil
	}
	h.auds = map[audKey]*audience{}
	h.wg.Wait()
}

// enter admits one more viewer of audience k from source src unless the
// hub has stopped or the audience (or, on the public stream, the source)
// is at its bound. Each audience counts against its own bound only.
func (h *Hub) enter(k audKey, src netip.Prefix) bool {
	h.life.Lock()
	defer h.life.Unlock()
	if h.stopped {
		return false
	}
	switch k.kind {
	case audPublic:
		if h.nPublic >= h.maxView || !h.perSource.Acquire(src) {
			return false
		}
		h.nPublic++
	case audAdmin:
		if h.nAdmin >= h.maxAdmin {
			return false
		}
		h.nAdmin++
	case audTeam:
		if h.nTeam[k.team] >= h.maxTeam {
			return false
		}
		h.nTeam[k.team]++
	}
	h.wg.Add(1)
	return true
}

// exit gives back what enter took.
func (h *Hub) exit(k audKey, src netip.Prefix) {
	h.life.Lock()
	switch k.kind {
	case audPublic:
		h.nPublic--
		h.perSource.Release(src)
	case audAdmin:
		h.nAdmin--
	case audTeam:
		if h.nTeam[k.team]--; h.nTeam[k.team] <= 0 {
			delete(h.nTeam, k.team)
		}
	}
	h.life.Unlock()
	h.wg.Done()
}

// add registers a viewer: its audience's snapshot goes first in its queue,
// which is empty, so the send cannot block.
func (h *Hub) add(v *viewer) {
	a := h.auds[v.key]
	if a == nil {
		if a = h.newAudience(v.key); a == nil {
			v.closeCode = websocket.ClosePolicyViolation
			close(v.send)
			return
		}
	}
	snap, err := a.snapshot(h.hwm)
	if err != nil {
		h.logger.Error("encoding a snapshot", "audience", v.key, "err", err)
		v.closeCode = websocket.CloseInternalServerErr
		close(v.send)
		return
	}
	h.auds[v.key] = a
	v.send <- snap
	a.viewers[v] = struct{}{}
	h.totals[v.key.kind]++
	h.observeViewers(v.key.kind)
}

// remove forgets a viewer and closes its queue; dropped viewers also lose
// their connection at once, so a write stuck on a full socket ends now.
func (h *Hub) remove(v *viewer, dropped bool) {
	a := h.auds[v.key]
	if a == nil {
		return
	}
	if _, ok := a.viewers[v]; !ok {
		return
	}
	delete(a.viewers, v)
	if dropped {
		v.closeCode = websocket.CloseTryAgainLater
		_ = v.conn.Close()
	}
	close(v.send)
	h.totals[v.key.kind]--
	h.observeViewers(v.key.kind)
	if len(a.viewers) == 0 {
		// Nobody left to diff for: the next viewer gets a fresh view.
		delete(h.auds, v.key)
	}
}

func (h *Hub) observeViewers(k audKind) {
	if h.obs.Viewers != nil {
		h.obs.Viewers(k.String(), h.totals[k])
	}
}

// flush sends each audience what changed since its last message.
func (h *Hub) flush() {
	h.mu.Lock()
	items := h.pending
	h.pending = h.spare[:0]
	skipped := h.skipped
	h.skipped = 0
	at := h.pendingAt
	h.pendingAt = time.Time{}
	last := h.lastSeq
	h.mu.Unlock()
	h.spare = items[:0]
	logs := h.takeLogs()
	defer h.releaseLogs(logs)
	// Items the first view already showed were heard late: drop them.
	from := h.hwm
	h.hwm = max(h.hwm, last)
	kept := items[:0]
	for _, e := range items {
		if e.item.Seq > from {
			kept = append(kept, e)
		}
	}
	items = kept
	if len(h.auds) == 0 {
		return
	}
	var pub, full *scoreboard.View
	views := func(k audKind) scoreboard.View {
		if k == audPublic {
			if pub == nil {
				v := h.src.PublicView()
				pub = &v
			}
			return *pub
		}
		if full == nil {
			v := h.src.FullView()
			full = &v
		}
		return *full
	}
	sent := false
	for _, a := range h.auds {
		nv := a.derive(views(a.key.kind))
		its := h.itemsFor(a, nv, items)
		var logsDropped int
		if q := logs[a.key.team]; q != nil && a.key.kind == audTeam {
			its = q.appendTo(its)
			logsDropped = q.dropped
		}
		sk := skipped
		if a.key.kind == audPublic && len(its) > publicEvents {
			// The audience's ticker is for reading: the newest items
			// are enough, and every byte here goes to every viewer.
			sk += len(its) - publicEvents
			its = its[len(its)-publicEvents:]
		}
		f := a.frame(nv, its, sk)
		a.setView(nv)
		if f == nil && logsDropped > 0 {
			f = &Message{Type: TypeEvent}
		}
		if f == nil {
			continue
		}
		f.LogsDropped = logsDropped
		a.seq++
		f.Seq = a.seq
		// While the board is frozen the public is not told when the
		// changes of a flush were made: the first may be a hidden one.
		if !at.IsZero() && (a.key.kind != audPublic || !boardFrozen(nv)) {
			f.At = at.UnixNano()
		}
		b, err := json.Marshal(f)
		if err == nil {
			var pm *websocket.PreparedMessage
			pm, err = websocket.NewPreparedMessage(websocket.TextMessage, b)
			if err == nil {
				h.fanOut(a, pm, len(b))
				sent = true
				continue
			}
		}
		// Cannot happen with these types; if it does, the stream is
		// broken for this audience, so make its viewers reconnect.
		h.logger.Error("encoding a frame", "audience", a.key, "err", err)
		for v := range a.viewers {
			h.remove(v, true)
		}
	}
	if sent && h.obs.FanOut != nil && !at.IsZero() {
		h.obs.FanOut(h.now().Sub(at))
	}
}

func (h *Hub) fanOut(a *audience, pm *websocket.PreparedMessage, size int) {
	n := 0
	for v := range a.viewers {
		select {
		case v.send <- pm:
			n++
		default:
			h.logger.Info("dropping a slow viewer", "audience", a.key, "addr", v.conn.RemoteAddr().String())
			if h.obs.Dropped != nil {
				h.obs.Dropped(a.key.kind.String())
			}
			h.remove(v, true)
		}
	}
	if h.obs.Frame != nil {
		h.obs.Frame(a.key.kind.String(), size, n)
	}
}

// itemsFor picks the ticker items of this flush that audience a may see.
func (h *Hub) itemsFor(a *audience, nv scoreboard.View, items []entry) []scoreboard.TickerItem {
	var out []scoreboard.TickerItem
	switch a.key.kind {
	case audPublic:
		var shown map[itemKey]scoreboard.TickerItem
		if boardFrozen(nv) {
			// The frozen board shows only what its own recent list
			// holds: items of before the freeze and phase changes,
			// the latter numbered in the board's own count.
			shown = make(map[itemKey]scoreboard.TickerItem, len(nv.Recent))
			for _, it := range nv.Recent {
				shown[itemKey{logSeq(it), it.Kind}] = it
			}
		}
		for _, e := range items {
			if e.private {
				continue
			}
			if shown == nil {
				out = append(out, e.item)
			} else if it, ok := shown[itemKey{e.item.Seq, e.item.Kind}]; ok {
				out = append(out, it)
			}
		}
	case audAdmin:
		for _, e := range items {
			out = append(out, completeItem(e, nv.Teams))
		}
	case audTeam:
		for _, e := range items {
			if e.private && int(e.team) != a.key.team {
				continue
			}
			it := completeItem(e, nv.Teams)
			if teamItem(it, a.name) {
				out = append(out, it)
			}
		}
	}
	return out
}

type itemKey struct {
	seq  uint64
	kind string
}

// logSeq is an item's place in the event log, whichever numbering its
// Seq is in.
func logSeq(it scoreboard.TickerItem) uint64 {
	if it.LogSeq != 0 {
		return it.LogSeq
	}
	return it.Seq
}

// boardFrozen reports whether the view is the board of the freeze; the
// end of the game reveals the real board even though frozen stays set.
func boardFrozen(v scoreboard.View) bool {
	return v.Frozen && v.Phase != scoreboard.PhaseEnded.String()
}

// verdictNames are the wire names of detection verdicts (PROTOCOLS.md §7).
var verdictNames = map[uint8]string{
	scoreboard.VerdictPending:   "pending",
	scoreboard.VerdictTrue:      "true_positive",
	scoreboard.VerdictFalse:     "false_positive",
	scoreboard.VerdictDuplicate: "duplicate",
}

// completeItem turns a private entry into the item its team sees: the
// verdict, its points and the service, never the report's other details.
func completeItem(e entry, teams []scoreboard.TeamInfo) scoreboard.TickerItem {
	if !e.private {
		return e.item
	}
	it := e.item
	var j struct {
		Points  float64 `json:"points"`
		Service string  `json:"service"`
	}
	_ = json.Unmarshal([]byte(it.Text), &j)
	it.Text = verdictNames[e.code]
	it.Points = j.Points
	it.Service = j.Service
	if e.team >= 0 && int(e.team) < len(teams) {
		it.Team = teams[e.team].Name
	}
	return it
}

// teamItem reports whether a ticker item concerns team name: its own
// captures and detections, captures of its flags, its services going down
// or up, and the game's phase changes.
func teamItem(it scoreboard.TickerItem, name string) bool {
	return it.Kind == "phase" || (name != "" && (it.Team == name || it.Target == name))
}
