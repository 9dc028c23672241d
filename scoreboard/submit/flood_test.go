package submit

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cyrange/cyrange/internal/floodtest"
)

// These tests hold floods of real connections on loopback, from extra
// loopback source addresses (Linux routes all of 127.0.0.0/8 to lo), and
// prove that a real team still connects, authenticates and gets OK for a
// flag. Nothing in them depends on timing: every flood is fully accepted
// before the team connects, and the deadlines are hang guards only.

// dialFrom connects to addr from the loopback address src.
func dialFrom(t testing.TB, src, addr string) *tclient {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &tclient{t: t, nc: nc, br: bufio.NewReader(nc)}
}

// floodIdle opens n connections from src that never send a token, each
// sending one blank line (which must not keep it alive), once the server
// has answered every one of them (a greeting, a refusal or a close).
func floodIdle(t *testing.T, h *floodtest.Held, src, addr string, n int) {
	t.Helper()
	h.Open(t, src, addr, n, func(c net.Conn) error {
		_, err := c.Read(make([]byte, 1))
		c.Write([]byte("\n"))
		return err
	})
}

// submitOne proves that team, connecting from src, is served: it is
// greeted, its token accepted, and a fresh flag is worth OK.
func submitOne(t *testing.T, fx *fixture, src, addr string, team int, tick int32) {
	t.Helper()
	c := dialFrom(t, src, addr)
	c.login(fx.toks.TeamToken(team))
	f := fx.flag(tick, teamDelta, 0)
	c.send(f + "\n")
	if got := c.line(); !strings.HasPrefix(got, f+" OK Accepted: ") {
		t.Fatalf("team %d from %s: reply %q, want OK", team, src, got)
	}
}

// One source holding far more idle connections than the server's whole
// capacity used to lock every team out; the flooder now only pushes out its
// own oldest unauthenticated connections.
func TestTCPFloodFromOneSource(t *testing.T) {
	fx := newFixture(t, fixtureOpts{running: true})
	addr := startTCP(t, fx.tcpOptions())
	h := floodtest.Hold(t)
	floodIdle(t, h, "127.0.0.2", addr, 1500)
	submitOne(t, fx, "127.0.0.1", addr, teamAlpha, 4000)
	// A team behind the flooder's address (one NAT for the whole drill)
	// gets in too: its connection pushes out the flood's oldest.
	submitOne(t, fx, "127.0.0.2", addr, teamBravo, 4001)
}

// Many sources together fill the pool of unauthenticated connections: a
// newcomer pushes out the oldest of them rather than being turned away,
// and once it has authenticated it is out of their reach.
func TestTCPFloodFromManySources(t *testing.T) {
	fx := newFixture(t, fixtureOpts{running: true})
	addr := startTCP(t, fx.tcpOptions())
	// Alpha is in before the flood and must stay in.
	early := dialFrom(t, "127.0.0.1", addr)
	early.login(fx.toks.TeamToken(teamAlpha))
	h := floodtest.Hold(t)
	for i := range 16 {
		floodIdle(t, h, fmt.Sprintf("127.0.0.%d", 10+i), addr, 80)
	}
	submitOne(t, fx, "127.0.0.1", addr, teamBravo, 4000)
	submitOne(t, fx, "127.0.0.12", addr, teamCharlie, 4001)
	f := fx.flag(4002, teamDelta, 0)
	early.send(f + "\n")
	if got := early.line(); !strings.HasPrefix(got, f+" OK Accepted: ") {
		t.Fatalf("alpha, in before the flood: reply %q, want OK", got)
	}
}

// A team that opens connection after connection with its token takes
// only its own share; the others still connect.
func TestTCPFloodOfOneTeam(t *testing.T) {
	fx := newFixture(t, fixtureOpts{running: true})
	addr := startTCP(t, fx.tcpOptions())
	h := floodtest.Hold(t)
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.3")}, Timeout: 10 * time.Second}
	tok := fx.toks.TeamToken(teamBravo)
	accepted, refused := 0, 0
	for range 1100 {
		nc, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		h.Add(nc)
		nc.SetDeadline(time.Now().Add(10 * time.Second))
		br := bufio.NewReader(nc)
		first, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("bravo's connection: %q %v", first, err)
		}
		if strings.HasPrefix(first, "ERR too many connections") {
			refused++
			continue
		}
		br.ReadString('\n') // the greeting's second line
		br.ReadString('\n') // and its empty one
		io.WriteString(nc, tok+"\n")
		switch l, _ := br.ReadString('\n'); l {
		case "team token accepted, enter your flags\n":
			accepted++
		case "ERR too many connections, try again later\n":
			refused++
		default:
			t.Fatalf("bravo's token: reply %q", l)
		}
	}
	if accepted != DefaultMaxConnsPerTeam || refused != 1100-DefaultMaxConnsPerTeam {
		t.Errorf("bravo: %d connections accepted and %d refused, want %d and the rest", accepted, refused, DefaultMaxConnsPerTeam)
	}
	submitOne(t, fx, "127.0.0.3", addr, teamAlpha, 4000)
}

// A connection has a fixed time to send its token: blank lines do not
// extend it.
func TestTCPAuthDeadline(t *testing.T) {
	fx := newFixture(t, fixtureOpts{running: true})
	o := fx.tcpOptions()
	o.IdleTimeout = 300 * time.Millisecond
	addr := startTCP(t, o)
	c := dialTCP(t, addr)
	c.greeting()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				c.nc.SetWriteDeadline(time.Now().Add(time.Second))
				if _, err := c.nc.Write([]byte("\n")); err != nil {
					return
				}
			}
		}
	})
	defer func() { close(stop); wg.Wait() }()
	// A hang guard only: the server closes after 300 ms.
	c.nc.SetReadDeadline(time.Now().Add(20 * time.Second))
	if b, err := c.br.ReadByte(); err == nil {
		t.Fatalf("read %q, want the connection closed", b)
	} else if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("blank lines kept an unauthenticated connection open")
	}
}
