package mailserver

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/cyrange/cyrange/internal/persource"
)

// TestInflightShare: one source holding many large messages half-sent
// takes at most its share of the in-flight budget, and another sender's
// message still goes through meanwhile.
func TestInflightShare(t *testing.T) {
	const conns, part = 20, 200 << 10
	ts := startServerWith(t, Config{Limits: Limits{MessageBytes: 256 << 10, InflightBytes: 4 << 20}})
	people := staff(ts, 2)
	for range conns {
		c := openData(t, ts, people[0])
		if _, err := c.tp.W.Write(bulk(part)); err != nil {
			t.Fatal(err)
		}
		_ = c.tp.W.Flush()
	}
	// Each connection holds the chunks it has read, four of them for
	// part; what the hog can hold is bounded by its share and the budget.
	hog := persource.Source(netip.MustParseAddr("127.0.0.1"))
	pool := ts.inflight
	want := int64(conns * 4 * dataChunk)
	want = min(want, ts.store.limits.InflightBytes)
	if pool.share > 0 {
		want = min(want, pool.share)
	}
	deadline := time.Now().Add(30 * time.Second) // a hang guard
	for {
		pool.mu.Lock()
		held := pool.held[hog]
		pool.mu.Unlock()
		if held >= want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the hog holds %d of the %d it can", held, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if want >= ts.store.limits.InflightBytes {
		t.Errorf("one source may hold the whole in-flight budget (%d bytes)", want)
	}
	if err := sendAnon(t, fromAddr("127.0.0.3"), ts.AddrSMTP(), []string{people[1].Addr}, bulk(part)); err != nil {
		t.Errorf("another sender's message while the hog holds its share: %v", err)
	}
}

// TestIPv6SourceIsItsNetwork: the mail target counts an IPv6 sender by
// its /64, as the rest of the platform does, so that a machine cycling
// through its network's addresses is one source for the lockout, the
// connection bound and the quotas.
func TestIPv6SourceIsItsNetwork(t *testing.T) {
	addr := func(i int) netip.Addr {
		return netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(i), 14: byte(i >> 8)})
	}
	now := time.Unix(1e9, 0)
	st := Settings{Lockout: true, LockThreshold: 5, LockWindow: time.Hour, LockDuration: time.Hour}

	fails := newFailTable()
	for i := range 5 {
		fails.fail("alice", addr(i), now, st)
	}
	if !fails.locked("alice", addr(999), now) {
		t.Error("a brute force spread over one /64 was not locked")
	}
	if fails.locked("alice", netip.MustParseAddr("2001:db8:0:1::1"), now) {
		t.Error("another /64 was locked")
	}
	for i := range sourceFailLimit {
		fails.fail("user"+string(rune('a'+i%26))+string(rune('a'+i/26)), addr(1000+i), now, st)
	}
	if !fails.locked("bob", addr(5000), now) {
		t.Error("a spray over one /64 did not lock the network")
	}
	if n := len(fails.sources); n != 1 {
		t.Errorf("%d sources followed for one /64", n)
	}

	live := newLiveConns(func(netip.Addr) bool { return true }, func(grant) bool { return true })
	for i := range maxConnsPerSource {
		if _, err := live.admit("imap", fakeConn{addr(i)}); err != nil {
			t.Fatalf("connection %d refused: %v", i, err)
		}
	}
	if _, err := live.admit("imap", fakeConn{addr(maxConnsPerSource)}); err == nil {
		t.Error("one /64 held more than its connections through new addresses")
	}

	srv, err := New(Config{Accounts: MinAccounts, CheckerSecret: testSecret, Limits: Limits{SourceBytes: 8 << 10}})
	if err != nil {
		t.Fatal(err)
	}
	box := srv.dir.Accounts[10]
	for i := range 2 {
		if _, err := srv.store.reserve(writer{src: addr(i)}, []*Account{box}, 4<<10); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	if err := srv.store.admits(writer{src: addr(77)}, box); err == nil {
		t.Error("the /64's quota refilled through a new address")
	}
}

// fakeConn is a connection from a given address, for the tables that look
// only at it.
type fakeConn struct{ src netip.Addr }

func (c fakeConn) Read([]byte) (int, error)         { return 0, net.ErrClosed }
func (c fakeConn) Write(b []byte) (int, error)      { return len(b), nil }
func (c fakeConn) Close() error                     { return nil }
func (c fakeConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c fakeConn) SetDeadline(time.Time) error      { return nil }
func (c fakeConn) SetReadDeadline(time.Time) error  { return nil }
func (c fakeConn) SetWriteDeadline(time.Time) error { return nil }
func (c fakeConn) RemoteAddr() net.Addr {
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(c.src, 4000))
}
