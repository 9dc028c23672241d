package submit

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cyrange/cyrange/scoreboard"
)

const wantGreeting = "Welcome to the cyrange flag submission service.\n" +
	"Enter your flags, one per line. Send your team token first, unless you connect from your team's network.\n\n"

func startTCP(t *testing.T, o TCPOptions) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewTCPServer(o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

func (f *fixture) tcpOptions() TCPOptions {
	return TCPOptions{Judge: f.game, Auth: f.toks}
}

type tclient struct {
	t  testing.TB
	nc net.Conn
	br *bufio.Reader
}

func dialTCP(t testing.TB, addr string) *tclient {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &tclient{t: t, nc: nc, br: bufio.NewReader(nc)}
}

func (c *tclient) greeting() {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	var got strings.Builder
	for !strings.HasSuffix(got.String(), "\n\n") {
		b, err := c.br.ReadByte()
		if err != nil {
			c.t.Fatalf("greeting: after %q: %v", got.String(), err)
		}
		got.WriteByte(b)
	}
	if got.String() != wantGreeting {
		c.t.Fatalf("greeting = %q, want %q", got.String(), wantGreeting)
	}
}

func (c *tclient) send(s string) {
	c.t.Helper()
	c.nc.SetWriteDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c.nc, s); err != nil {
		c.t.Fatal(err)
	}
}

func (c *tclient) line() string {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	s, err := c.br.ReadString('\n')
	if err != nil {
		c.t.Fatalf("reading a reply: got %q: %v", s, err)
	}
	return s
}

func (c *tclient) expect(want ...string) {
	c.t.Helper()
	for _, w := range want {
		if got := c.line(); got != w {
			c.t.Fatalf("reply %q, want %q", got, w)
		}
	}
}

// closed waits for the server to close the connection, with nothing more
// to read.
func (c *tclient) closed() {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	b, err := c.br.ReadByte()
	if err == nil {
		rest, _ := c.br.Peek(c.br.Buffered())
		c.t.Fatalf("read %q, want the connection closed", string(b)+string(rest))
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		c.t.Fatal("connection still open")
	}
}

func (c *tclient) login(token string) {
	c.t.Helper()
	c.greeting()
	c.send(token + "\n")
	c.expect("team token accepted, enter your flags\n")
}

func TestTCPVerdicts(t *testing.T) {
	fx := newFixture(t, fixtureOpts{running: true})
	addr := startTCP(t, fx.tcpOptions())
	f := fx.flag(4000, teamDelta, 0)
	f2 := fx.flag(4001, teamDelta, 0)
	f3 := fx.flag(4000, teamDelta, 1)
	own := fx.flag(4000, teamCharlie, 0)
	old := fx.flag(1000, teamDelta, 0)
	future := fx.flag(5001, teamDelta, 0)

	alpha := dialTCP(t, addr)
	alpha.login(fx.toks.TeamToken(teamAlpha))
	steps := []struct {
		desc string
		c    *tclient
		send string
		want []string
	}{
		{"accepted with first blood", alpha, f + "\n", []string{f + " OK Accepted: 12 flag points\n"}},
		{"duplicate", alpha, f + "\n", []string{f + " DUP already submitted\n"}},
		{"accepted", alpha, f2 + "\n", []string{f2 + " OK Accepted: 2 flag points\n"}},
		{"too old", alpha, old + "\n", []string{old + " OLD flag is too old\n"}},
		{"from the future", alpha, future + "\n", []string{future + " INV invalid flag\n"}},
		{"forged", alpha, forged + "\n", []string{forged + " INV invalid flag\n"}},
		{"not flag-shaped", alpha, "hello there\n", []string{"hello there INV invalid flag\n"}},
		{"lower case", alpha, strings.ToLower(f) + "\n", []string{strings.ToLower(f) + " INV invalid flag\n"}},
		{"empty lines ignored, CR and blanks dropped", alpha, "\n\r\n  \n \t" + f3 + " \r\n",
			[]string{f3 + " OK Accepted: 12 flag points\n"}},
		{"several at once", alpha, f + "\n" + "x\n" + f2 + "\n", []string{
			f + " DUP already submitted\n", "x INV invalid flag\n", f2 + " DUP already submitted\n"}},
	}
	for _, s := range steps {
		s.c.send(s.send)
		s.c.expect(s.want...)
	}

	bravo := dialTCP(t, addr)
	bravo.login(fx.toks.TeamToken(teamBravo))
	bravo.send(f + "\n")
	bravo.expect(f + " OK Accepted: 1.5 flag points\n")

	charlie := dialTCP(t, addr)
	charlie.login(fx.toks.TeamToken(teamCharlie))
	charlie.send(own + "\n" + f + "\n")
	charlie.expect(own+" OWN this is your own flag\n", f+" OK Accepted: 1.33 flag points\n")

	st, err := fx.game.Standing(teamAlpha)
	if err != nil {
		t.Fatal(err)
	}
	if st.Captures != 3 {
		t.Errorf("alpha has %d captures, want 3", st.Captures)
	}
}

func TestTCPTokens(t *testing.T) {
	fx := newFixture(t, fixtureOpts{running: true})
	addr := startTCP(t, fx.tcpOptions())
	tests := []struct {
		desc  string
		first string
		want  string
	}{
		{"wrong token", "0123456789abcdef0123456789abcdef", "invalid team token\n"},
		{"a flag instead of a token", fx.flag(4000, teamDelta, 0), "invalid team token\n"},
		{"organizer", fx.toks.OrganizerToken(), "the organizer token cannot submit flags: use a team token\n"},
		{"defence-only team", fx.toks.TeamToken(teamDelta), "this team only defends and cannot submit flags\n"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			c := dialTCP(t, addr)
			c.greeting()
			// Pipelined flags after the token must not make the server
			// reset the connection before the client reads the reply.
			c.send("\n" + tt.first + "\r\n" + strings.Repeat(fx.flag(4000, teamDelta, 0)+"\n", 100))
			c.expect(tt.want)
			c.closed()
		})
	}
	t.Run("valid token, pipelined flags", func(t *testing.T) {
		c := dialTCP(t, addr)
		c.greeting()
		f := fx.flag(4100, teamDelta, 0)
		c.send(fx.toks.TeamToken(teamBravo) + "\n" + f + "\n")
		c.expect("team token accepted, enter your flags\n", f+" OK Accepted: 12 flag points\n")
	})
	t.Run("a token is only the first line", func(t *testing.T) {
		c := dialTCP(t, addr)
		c.login(fx.toks.TeamToken(teamAlpha))
		tok := fx.toks.TeamToken(teamBravo)
		c.send(tok + "\n")
		c.expect(tok + " INV invalid flag\n")
	})
}

func TestTCPPhases(t *testing.T) {
	fx := newFixture(t, fixtureOpts{})
	addr := startTCP(t, fx.tcpOptions())
	c := dialTCP(t, addr)
	c.login(fx.toks.TeamToken(teamAlpha))
	f := fx.flag(1, teamDelta, 0)
	c.send(f + "\nx\n")
	c.expect(f+" ERR game not started\n", "x INV invalid flag\n")
	fx.act(t, scoreboard.ActStart)
	fx.act(t, scoreboard.ActPause)
	c.send(f + "\n")
	c.expect(f + " ERR game paused, try again later\n")
	fx.act(t, scoreboard.ActEnd)
	c.send(f + "\n")
	c.expect(f + " ERR game over\n")
}

// pipelineLines returns n lines, every tenth one junk, the rest distinct
// live flags, and what their replies start with.
func pipelineLines(fx *fixture, n int) (lines, want []string) {
	for i := range n {
		if i%10 == 9 {
			l := fmt.Sprintf("junk-%d", i)
			lines = append(lines, l)
			want = append(want, l+" INV invalid flag\n")
			continue
		}
		f := fx.flag(int32(1001+i%4000), teamDelta, i/4000)
		lines = append(lines, f)
		want = append(want, f+" OK Accepted: ")
	}
	return lines, want
}

func TestTCPPipeline(t *testing.T) {
	tests := []struct {
		desc     string
		batch    int
		inFlight int
	}{
		{"defaults", 0, 0},
		{"small batches, many in flight", 7, 3},
		{"one batch at a time", 50, 1},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			fx := newFixture(t, fixtureOpts{running: true})
			var obs observed
			o := fx.tcpOptions()
			o.MaxBatch, o.MaxInFlight, o.Observe = tt.batch, tt.inFlight, obs.observe
			c := dialTCP(t, startTCP(t, o))
			c.login(fx.toks.TeamToken(teamAlpha))
			lines, want := pipelineLines(fx, 5000)
			go func() {
				// One write; the reads below run concurrently, as a
				// farm's would.
				c.nc.Write([]byte(strings.Join(lines, "\n") + "\n"))
			}()
			for i, w := range want {
				if got := c.line(); !strings.HasPrefix(got, w) {
					t.Fatalf("reply %d = %q, want %q...", i, got, w)
				}
			}
			if ok, inv := obs.get(scoreboard.CodeOK), obs.get(scoreboard.CodeINV); ok != 4500 || inv != 500 {
				t.Errorf("observed %d OK and %d INV, want 4500 and 500", ok, inv)
			}
			st, _ := fx.game.Standing(teamAlpha)
			if st.Captures != 4500 {
				t.Errorf("%d captures, want 4500", st.Captures)
			}
		})
	}
}

func TestTCPLineTooLong(t *testing.T) {
	fx := newFixture(t, fixtureOpts{running: true})
	addr := startTCP(t, fx.tcpOptions())
	f := fx.flag(4000, teamDelta, 0)
	f2 := fx.flag(4001, teamDelta, 0)
	t.Run("200 bytes is fine", func(t *testing.T) {
		c := dialTCP(t, addr)
		c.login(fx.toks.TeamToken(teamBravo))
		l := strings.Repeat("B", 200)
		c.send(l + "\n" + l + "\r\n")
		c.expect(l+" INV invalid flag\n", l+" INV invalid flag\n")
	})
	t.Run("201 bytes closes after earlier replies", func(t *testing.T) {
		c := dialTCP(t, addr)
		c.login(fx.toks.TeamToken(teamAlpha))
		c.send(f + "\n" + strings.Repeat("A", 201) + "\n" + f2 + "\n")
		c.expect(f+" OK Accepted: 12 flag points\n", "ERR line too long\n")
		c.closed()
		st, _ := fx.game.Standing(teamAlpha)
		if st.Captures != 1 {
			t.Errorf("%d captures, want 1: nothing after the long line counts", st.Captures)
		}
	})
	t.Run("without its end of line", func(t *testing.T) {
		c := dialTCP(t, addr)
		c.login(fx.toks.TeamToken(teamAlpha))
		c.send(strings.Repeat("A", 500))
		c.expect("ERR line too long\n")
		c.closed()
	})
	t.Run("as the token line", func(t *testing.T) {
		c := dialTCP(t, addr)
		c.greeting()
		c.send(strings.Repeat("A", 300) + "\n")
		c.expect("ERR line too long\n")
		c.closed()
	})
}

func TestTCPLastLineWithoutNewline(t *testing.T) {
	fx := newFixture(t, fixtureOpts{running: true})
	c := dialTCP(t, startTCP(t, fx.tcpOptions()))
	c.login(fx.toks.TeamToken(teamAlpha))
	f := fx.flag(4000, teamDelta, 0)
	c.send(f)
	c.nc.(*net.TCPConn).CloseWrite()
	c.expect(f + " OK Accepted: 12 flag points\n")
	c.closed()
}

func TestTCPIdleTimeout(t *testing.T) {
	fx := newFixture(t, fixtureOpts{running: true})
	o := fx.tcpOptions()
	o.IdleTimeout = 100 * time.Millisecond
	addr := startTCP(t, o)
	t.Run("before the token", func(t *testing.T) {
		c := dialTCP(t, addr)
		c.greeting()
		c.closed()
	})
	t.Run("after some flags", func(t *testing.T) {
		// The idle timeout bounds the authentication too: a server of its
		// own with one long enough that a loaded machine's scheduling
		// cannot spend it before the token is read.
		o := fx.tcpOptions()
		o.IdleTimeout = 2 * time.Second
		c := dialTCP(t, startTCP(t, o))
		c.login(fx.toks.TeamToken(teamAlpha))
		c.send("x\n")
		c.expect("x INV invalid flag\n")
		c.closed()
	})
}

// Without AddressIdentity (the local driver, where any process can bind a
// team's address), a connection from a team's network is a stranger until
// it sends a token.
func TestTCPSpoofedSourceGetsNoTeam(t *testing.T) {
	fx := newFixture(t, fixtureOpts{running: true, networks: [4]string{teamAlpha: "127.60.0.0/24"}})
	addr := startTCP(t, fx.tcpOptions())
	f := fx.flag(4000, teamDelta, 0)
	c := dialFrom(t, "127.60.0.7", addr)
	c.greeting()
	c.send(f + "\n")
	c.expect("invalid team token\n")
	c.closed()
	if st, _ := fx.game.Standing(teamAlpha); st.Captures != 0 {
		t.Errorf("alpha has %d captures from a spoofed address, want 0", st.Captures)
	}
	// With its token it is served as usual.
	c = dialFrom(t, "127.60.0.7", addr)
	c.login(fx.toks.TeamToken(teamAlpha))
	c.send(f + "\n")
	c.expect(f + " OK Accepted: 12 flag points\n")
}

func TestTCPAddressIdentity(t *testing.T) {
	f := func(fx *fixture) string { return fx.flag(4000, teamDelta, 0) }
	startTCP := func(t *testing.T, o TCPOptions) string {
		o.AddressIdentity = true
		return startTCP(t, o)
	}
	t.Run("team known by address", func(t *testing.T) {
		fx := newFixture(t, fixtureOpts{running: true, networks: [4]string{teamAlpha: "127.0.0.0/8"}})
		c := dialTCP(t, startTCP(t, fx.tcpOptions()))
		c.greeting()
		c.send("nonsense\n" + f(fx) + "\n")
		c.expect("nonsense INV invalid flag\n", f(fx)+" OK Accepted: 12 flag points\n")
		if st, _ := fx.game.Standing(teamAlpha); st.Captures != 1 {
			t.Errorf("alpha has %d captures, want 1", st.Captures)
		}
	})
	t.Run("a token line is still accepted and wins", func(t *testing.T) {
		fx := newFixture(t, fixtureOpts{running: true, networks: [4]string{teamAlpha: "127.0.0.0/8"}})
		c := dialTCP(t, startTCP(t, fx.tcpOptions()))
		c.login(fx.toks.TeamToken(teamBravo))
		c.send(f(fx) + "\n")
		c.expect(f(fx) + " OK Accepted: 12 flag points\n")
		if st, _ := fx.game.Standing(teamBravo); st.Captures != 1 {
			t.Errorf("bravo has %d captures, want 1", st.Captures)
		}
	})
	t.Run("a wrong token from a team network", func(t *testing.T) {
		fx := newFixture(t, fixtureOpts{running: true, networks: [4]string{teamAlpha: "127.0.0.0/8"}})
		c := dialTCP(t, startTCP(t, fx.tcpOptions()))
		c.greeting()
		c.send("0123456789abcdef0123456789abcdef\n")
		c.expect("0123456789abcdef0123456789abcdef INV invalid flag\n")
	})
	t.Run("a defence team's network", func(t *testing.T) {
		fx := newFixture(t, fixtureOpts{running: true, networks: [4]string{teamDelta: "127.0.0.0/8"}})
		c := dialTCP(t, startTCP(t, fx.tcpOptions()))
		c.greeting()
		c.send(f(fx) + "\n")
		c.expect("this team only defends and cannot submit flags\n")
		c.closed()
	})
}

func TestTCPRateLimit(t *testing.T) {
	fx := newFixture(t, fixtureOpts{running: true})
	o := fx.tcpOptions()
	o.Limiter = NewLimiter(1, 3, 4, fx.clock.Now)
	c := dialTCP(t, startTCP(t, o))
	c.login(fx.toks.TeamToken(teamAlpha))
	var fl []string
	for i := range 8 {
		fl = append(fl, fx.flag(int32(2000+i), teamDelta, 0))
	}
	c.send(strings.Join(fl[:5], "\n") + "\nnot-a-flag\n")
	c.expect(
		fl[0]+" OK Accepted: 12 flag points\n",
		fl[1]+" OK Accepted: 2 flag points\n",
		fl[2]+" OK Accepted: 2 flag points\n",
		fl[3]+" ERR too many flags, try again later\n",
		fl[4]+" ERR too many flags, try again later\n",
		"not-a-flag INV invalid flag\n",
	)
	fx.clock.Advance(2 * time.Second)
	c.send(strings.Join(fl[5:8], "\n") + "\n")
	c.expect(
		fl[5]+" OK Accepted: 2 flag points\n",
		fl[6]+" OK Accepted: 2 flag points\n",
		fl[7]+" ERR too many flags, try again later\n",
	)
}

func TestTCPMaxConnsPerTeam(t *testing.T) {
	fx := newFixture(t, fixtureOpts{running: true})
	o := fx.tcpOptions()
	o.MaxConnsPerTeam = 1
	addr := startTCP(t, o)
	first := dialTCP(t, addr)
	first.login(fx.toks.TeamToken(teamAlpha))
	second := dialTCP(t, addr)
	second.greeting()
	second.send(fx.toks.TeamToken(teamAlpha) + "\n")
	second.expect("ERR too many connections, try again later\n")
	second.closed()
	// Another team is not affected.
	bravo := dialTCP(t, addr)
	bravo.login(fx.toks.TeamToken(teamBravo))
	first.nc.Close()
	// The slot frees once the server has seen the first one go.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c := dialTCP(t, addr)
		c.greeting()
		c.send(fx.toks.TeamToken(teamAlpha) + "\n")
		l := c.line()
		if l == "team token accepted, enter your flags\n" {
			break
		}
		if l != "ERR too many connections, try again later\n" || time.Now().After(deadline) {
			t.Fatalf("no slot after the first connection closed: %q", l)
		}
		c.nc.Close()
		time.Sleep(10 * time.Millisecond)
	}
}

// A source at its bound of connections without a token: the newest pushes
// out the oldest.
func TestTCPPendingPerSource(t *testing.T) {
	fx := newFixture(t, fixtureOpts{running: true})
	o := fx.tcpOptions()
	o.MaxPendingPerSource = 1
	addr := startTCP(t, o)
	old := dialTCP(t, addr)
	old.greeting()
	c := dialTCP(t, addr)
	c.greeting()
	old.closed()
	c.send(fx.toks.TeamToken(teamAlpha) + "\n")
	c.expect("team token accepted, enter your flags\n")
	// Authenticated, it is no longer in the strangers' pool.
	other := dialTCP(t, addr)
	other.greeting()
	f := fx.flag(4000, teamDelta, 0)
	c.send(f + "\n")
	c.expect(f + " OK Accepted: 12 flag points\n")
}

// A client that sends and never reads stalls its own connection only.
func TestTCPStuckClientDoesNotBlockOthers(t *testing.T) {
	fx := newFixture(t, fixtureOpts{running: true})
	addr := startTCP(t, fx.tcpOptions())
	stuck := dialTCP(t, addr)
	stuck.login(fx.toks.TeamToken(teamBravo))
	chunk := []byte(strings.Repeat("x\n", 32<<10))
	sent := 0
	for {
		stuck.nc.SetWriteDeadline(time.Now().Add(300 * time.Millisecond))
		n, err := stuck.nc.Write(chunk)
		sent += n
		if errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if sent > 1<<30 {
			t.Fatal("the server never stopped reading a client that does not read")
		}
	}
	c := dialTCP(t, addr)
	c.login(fx.toks.TeamToken(teamAlpha))
	f := fx.flag(4000, teamDelta, 0)
	c.send(f + "\n")
	c.expect(f + " OK Accepted: 12 flag points\n")
}

func TestTCPServerClose(t *testing.T) {
	fx := newFixture(t, fixtureOpts{running: true})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewTCPServer(fx.tcpOptions())
	done := make(chan error, 1)
	go func() { done <- s.Serve(context.Background(), ln) }()
	c := dialTCP(t, ln.Addr().String())
	c.login(fx.toks.TeamToken(teamAlpha))
	s.Close()
	c.closed()
	if err := <-done; err != nil {
		t.Fatalf("Serve after Close = %v, want nil", err)
	}
	if err := s.Serve(context.Background(), ln); err != nil {
		t.Fatalf("Serve on a closed server = %v, want nil", err)
	}
}

// stubJudge answers with fixed results.
type stubJudge struct {
	err   error
	phase string
}

func (j stubJudge) Submit(_ context.Context, _ int, flags [][]byte) ([]scoreboard.Verdict, error) {
	if j.err != nil {
		return nil, j.err
	}
	return make([]scoreboard.Verdict, len(flags)), nil
}

func (stubJudge) TeamByAddr(netip.Addr) (int, bool) { return 0, false }
func (j stubJudge) PhaseError() string              { return j.phase }

func TestTCPJudgeFailure(t *testing.T) {
	fx := newFixture(t, fixtureOpts{running: true})
	o := fx.tcpOptions()
	o.Judge = stubJudge{err: errors.New("disk on fire")}
	c := dialTCP(t, startTCP(t, o))
	c.login(fx.toks.TeamToken(teamAlpha))
	f := fx.flag(4000, teamDelta, 0)
	c.send(f + "\nx\n")
	c.expect(f+" ERR submission failed, try again later\n", "x INV invalid flag\n")
	c.send(f + "\n")
	c.expect(f + " ERR submission failed, try again later\n")
}

func TestTCPNeedsJudge(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := NewTCPServer(TCPOptions{}).Serve(context.Background(), ln); !errors.Is(err, scoreboard.ErrInvalid) {
		t.Fatalf("Serve without a judge = %v, want ErrInvalid", err)
	}
}
