package portal

import (
	"container/list"
	"context"
	"net/netip"
	"sync"
	"time"
)

// What the public writes (dossiers with their files, contact messages,
// uploads) is bounded per source (an IPv4 address or an IPv6 /64) and in
// all: past its share a source loses its own oldest, and past the total
// the source holding the most loses its oldest, so that a flood only
// churns through the flooder's own writes. The generated content is not
// counted and never evicted.
type quota struct {
	lim   Limits
	evict func(holding)

	mu    sync.Mutex
	bySrc map[netip.Prefix]*srcHold
	used  int64
}

type srcHold struct {
	items list.List // of holding, oldest first
	bytes int64
}

// holding is one row a source wrote.
type holding struct {
	kind  string // dossier, message, file
	id    int64
	bytes int64
}

func newQuota(lim Limits, evict func(holding)) *quota {
	return &quota{lim: lim, evict: evict, bySrc: map[netip.Prefix]*srcHold{}}
}

// add counts h against src and evicts what no longer fits.
func (q *quota) add(src netip.Prefix, h holding) {
	var out []holding
	q.mu.Lock()
	sh := q.bySrc[src]
	if sh == nil {
		sh = &srcHold{}
		q.bySrc[src] = sh
	}
	sh.items.PushBack(h)
	sh.bytes += h.bytes
	q.used += h.bytes
	pop := func(p netip.Prefix, sh *srcHold) {
		e := sh.items.Front()
		old := e.Value.(holding)
		sh.items.Remove(e)
		sh.bytes -= old.bytes
		q.used -= old.bytes
		if sh.items.Len() == 0 {
			delete(q.bySrc, p)
		}
		out = append(out, old)
	}
	for sh.items.Len() > 1 && (sh.items.Len() > q.lim.StoredPerSource || sh.bytes > q.lim.StoredBytesSource) {
		pop(src, sh)
	}
	for q.used > q.lim.StoredBytes {
		var big netip.Prefix
		var most *srcHold
		for p, h := range q.bySrc {
			if most == nil || h.bytes > most.bytes {
				big, most = p, h
			}
		}
		if most == nil {
			break
		}
		pop(big, most)
	}
	q.mu.Unlock()
	for _, h := range out {
		q.evict(h)
	}
}

// evict deletes a public write the quota pushed out.
func (s *Server) evict(h holding) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var err error
	switch h.kind {
	case "dossier":
		_, err = s.db.ExecContext(ctx, `DELETE FROM dossiers WHERE id = ?`, h.id)
		if err == nil {
			_, err = s.db.ExecContext(ctx, `DELETE FROM files WHERE owner_kind = 'dossier' AND owner_id = ?`, h.id)
		}
	case "message":
		_, err = s.db.ExecContext(ctx, `DELETE FROM messages WHERE id = ?`, h.id)
	case "file":
		_, err = s.db.ExecContext(ctx, `DELETE FROM files WHERE id = ?`, h.id)
	}
	if err != nil {
		s.warn("system", "evict", "", "", "eviction failed", "kind", h.kind, "id", h.id, "error", err.Error())
		return
	}
	s.event("system", "evict", "", "", "oldest public write evicted over its source's share", "kind", h.kind, "id", h.id)
}
