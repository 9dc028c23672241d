package admit

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
)

type dropped struct {
	mu  sync.Mutex
	ids []string
}

func (d *dropped) fn(id string) func() {
	return func() {
		d.mu.Lock()
		d.ids = append(d.ids, id)
		d.mu.Unlock()
	}
}

func (d *dropped) take() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	ids := d.ids
	d.ids = nil
	return ids
}

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func TestPendingPerSourcePushesOutItsOwnOldest(t *testing.T) {
	var d dropped
	p := NewPool(Limits{Pending: 10, PendingPerSource: 2})
	a1 := p.Admit(addr("10.0.0.1"), d.fn("a1"))
	p.Admit(addr("10.0.0.2"), d.fn("b1"))
	p.Admit(addr("10.0.0.1"), d.fn("a2"))
	p.Admit(addr("10.0.0.1"), d.fn("a3"))
	if got := d.take(); len(got) != 1 || got[0] != "a1" {
		t.Fatalf("dropped %v, want [a1]", got)
	}
	if err := a1.Authenticate(1); !errors.Is(err, ErrEvicted) {
		t.Errorf("Authenticate after eviction: %v, want ErrEvicted", err)
	}
	a1.Release()
	if st := p.Stats(); st.Pending != 3 || st.Sources != 2 || st.Evicted != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestPendingPushesOutTheOldest(t *testing.T) {
	var d dropped
	p := NewPool(Limits{Pending: 3, PendingPerSource: 3})
	for i := range 3 {
		p.Admit(addr(fmt.Sprintf("10.0.0.%d", i+1)), d.fn(fmt.Sprint(i)))
	}
	late := p.Admit(addr("10.0.0.9"), d.fn("late"))
	if got := d.take(); len(got) != 1 || got[0] != "0" {
		t.Fatalf("dropped %v, want the oldest", got)
	}
	if err := late.Authenticate(7); err != nil {
		t.Fatalf("the newcomer: %v", err)
	}
	// Authenticated, it is out of reach of the next ones.
	for i := range 10 {
		p.Admit(addr("10.0.0.50"), d.fn(fmt.Sprint("flood", i)))
	}
	for _, id := range d.take() {
		if id == "late" {
			t.Fatal("an authenticated connection was pushed out")
		}
	}
	if st := p.Stats(); st.Pending != 3 || st.Authenticated != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestPerPrincipal(t *testing.T) {
	p := NewPool(Limits{Pending: 10, PendingPerSource: 10, PerPrincipal: 2})
	src := addr("10.0.0.1")
	a := p.Admit(src, nil)
	b := p.Admit(src, nil)
	c := p.Admit(src, nil)
	for _, tk := range []*Ticket{a, b} {
		if err := tk.Authenticate(1); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Authenticate(1); !errors.Is(err, ErrTooMany) {
		t.Fatalf("third of principal 1: %v, want ErrTooMany", err)
	}
	if err := c.Authenticate(2); err != nil {
		t.Fatalf("another principal: %v", err)
	}
	// Moving to a full principal keeps the old share.
	if err := c.Authenticate(1); !errors.Is(err, ErrTooMany) {
		t.Fatalf("move to a full principal: %v", err)
	}
	if _, err := p.AdmitAs(src, 1); !errors.Is(err, ErrTooMany) {
		t.Fatalf("AdmitAs a full principal: %v", err)
	}
	a.Release()
	a.Release()
	if err := c.Authenticate(1); err != nil {
		t.Fatalf("move after a release: %v", err)
	}
	if _, err := p.AdmitAs(src, 2); err != nil {
		t.Fatalf("AdmitAs principal 2, now empty: %v", err)
	}
	if st := p.Stats(); st.Pending != 0 || st.Authenticated != 3 {
		t.Errorf("stats %+v", st)
	}
	b.Release()
	c.Release()
	if st := p.Stats(); st.Authenticated != 1 {
		t.Errorf("stats after releases %+v", st)
	}
}

func TestSource(t *testing.T) {
	for _, tc := range []struct{ a, b string }{
		{"2001:db8::1", "2001:db8::ffff:1"},
		{"::ffff:10.0.0.1", "10.0.0.1"},
	} {
		if Source(addr(tc.a)) != Source(addr(tc.b)) {
			t.Errorf("%s and %s count as different sources", tc.a, tc.b)
		}
	}
	if Source(addr("10.0.0.1")) == Source(addr("10.0.0.2")) {
		t.Error("two IPv4 addresses count as one source")
	}
	if Source(addr("2001:db8:0:1::1")) == Source(addr("2001:db8:0:2::1")) {
		t.Error("two /64s count as one source")
	}
}

// Concurrent use keeps the books straight: when everything is released,
// nothing is left.
func TestConcurrent(t *testing.T) {
	p := NewPool(Limits{Pending: 16, PendingPerSource: 4, PerPrincipal: 3})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				tk := p.Admit(addr(fmt.Sprintf("10.0.%d.%d", g, i%5)), func() {})
				if i%2 == 0 {
					tk.Authenticate(i % 4)
				}
				if i%3 != 0 {
					tk.Release()
				} else {
					defer tk.Release()
				}
			}
		})
	}
	wg.Wait()
	if st := p.Stats(); st.Pending != 0 || st.Authenticated != 0 || st.Sources != 0 || len(p.principals) != 0 {
		t.Errorf("left over: %+v, principals %v", st, p.principals)
	}
}
