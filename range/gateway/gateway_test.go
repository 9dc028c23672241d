package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/net/proxy"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// team7Source is team 7's gateway address on the local address plan.
var team7Source = netip.MustParseAddr("127.60.7.2")

const (
	team  = "Đội 7"
	short = "a07"
	token = "s3cret-token-7"
)

// recorder collects telemetry. Every record is kept in all; next and
// none see one record per connection or attempt: a refusal or failure,
// or a connection once closed, with the bytes of all its records added
// up.
type recorder struct {
	mu    sync.Mutex
	all   []Conn
	bytes map[uint64][2]int64
	ch    chan Conn
}

func newRecorder() *recorder {
	return &recorder{ch: make(chan Conn, 1024), bytes: map[uint64][2]int64{}}
}

func (r *recorder) record(c Conn) {
	r.mu.Lock()
	r.all = append(r.all, c)
	switch c.State {
	case "heartbeat":
		r.mu.Unlock()
		return
	case "open", "interim":
		b := r.bytes[c.ID]
		r.bytes[c.ID] = [2]int64{b[0] + c.BytesUp, b[1] + c.BytesDown}
		r.mu.Unlock()
		return
	case "close":
		b := r.bytes[c.ID]
		delete(r.bytes, c.ID)
		c.BytesUp += b[0]
		c.BytesDown += b[1]
	}
	r.mu.Unlock()
	r.ch <- c
}

// records returns every record so far.
func (r *recorder) records() []Conn {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Conn(nil), r.all...)
}

func (r *recorder) next(t *testing.T) Conn {
	t.Helper()
	select {
	case c := <-r.ch:
		return c
	case <-time.After(30 * time.Second):
		t.Fatal("no telemetry recorded")
		return Conn{}
	}
}

func (r *recorder) none(t *testing.T) {
	t.Helper()
	select {
	case c := <-r.ch:
		t.Fatalf("unexpected telemetry %+v", c)
	case <-time.After(50 * time.Millisecond):
	}
}

// exactTarget is a TCP target that reads its client until EOF, then
// answers with reply bytes and closes; it reports each client's address
// and how much it read.
type exactTarget struct {
	ln    net.Listener
	reply int
	seen  chan seen
	wg    sync.WaitGroup
}

type seen struct {
	remote netip.AddrPort
	read   int64
}

func startExactTarget(t *testing.T, reply int) *exactTarget {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	x := &exactTarget{ln: ln, reply: reply, seen: make(chan seen, 1024)}
	x.wg.Add(1)
	go func() {
		defer x.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			x.wg.Add(1)
			go func() {
				defer x.wg.Done()
				defer c.Close()
				n, _ := io.Copy(io.Discard, c)
				x.seen <- seen{addrPortOf(c.RemoteAddr()), n}
				c.Write(bytes.Repeat([]byte{'d'}, x.reply))
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); x.wg.Wait() })
	return x
}

func (x *exactTarget) addr() netip.AddrPort { return addrPortOf(x.ln.Addr()) }

type fixture struct {
	addr string
	rec  *recorder
	g    *Gateway
}

// startGateway serves a gateway for team 7 on 127.0.0.1 with the given
// options completed by defaults; it stops at cleanup.
func startGateway(t *testing.T, o Options) *fixture {
	t.Helper()
	rec := newRecorder()
	if o.Team == "" {
		o.Team, o.User, o.Password = team, short, token
	}
	if !o.Source.IsValid() {
		o.Source = team7Source
	}
	o.Record = rec.record
	g, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- g.Serve(context.Background(), ln) }()
	t.Cleanup(func() {
		g.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return &fixture{addr: ln.Addr().String(), rec: rec, g: g}
}

func (f *fixture) dialer(t *testing.T, user, pass string) proxy.Dialer {
	t.Helper()
	d, err := proxy.SOCKS5("tcp", f.addr, &proxy.Auth{User: user, Password: pass}, &net.Dialer{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// exchange sends up bytes through c, half-closes, and reads the reply.
func exchange(t *testing.T, c net.Conn, up int) int {
	t.Helper()
	defer c.Close()
	if _, err := c.Write(bytes.Repeat([]byte{'u'}, up)); err != nil {
		t.Fatal(err)
	}
	if err := c.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	n, err := io.Copy(io.Discard, c)
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

func TestAllowedReachedFromTeamSourceWithExactBytes(t *testing.T) {
	x := startExactTarget(t, 7777)
	f := startGateway(t, Options{Allow: []Rule{AllowAddrPort(x.addr())},
		Resolve: map[string]netip.Addr{"Mail.Example.Test.": x.addr().Addr()}})

	for _, tc := range []struct {
		desc, user, dest, host string
	}{
		{"team name, address", team, x.addr().String(), ""},
		{"short name, name", short, fmt.Sprintf("mail.example.test:%d", x.addr().Port()), "mail.example.test"},
		{"name in capitals", short, fmt.Sprintf("MAIL.example.test:%d", x.addr().Port()), "MAIL.example.test"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			c, err := f.dialer(t, tc.user, token).Dial("tcp", tc.dest)
			if err != nil {
				t.Fatal(err)
			}
			const up = 12345
			if got := exchange(t, c, up); got != 7777 {
				t.Errorf("client read %d bytes, want 7777", got)
			}
			s := <-x.seen
			if s.remote.Addr() != team7Source {
				t.Errorf("target saw %v, want a connection from %v", s.remote, team7Source)
			}
			if s.read != up {
				t.Errorf("target read %d, want %d", s.read, up)
			}
			tel := f.rec.next(t)
			want := Conn{Team: team, Host: tc.host, Target: x.addr().Addr(), Port: x.addr().Port(), BytesUp: up, BytesDown: 7777}
			if tel.Team != want.Team || tel.Host != want.Host || tel.Target != want.Target || tel.Port != want.Port ||
				tel.BytesUp != want.BytesUp || tel.BytesDown != want.BytesDown || tel.Refused || tel.Error != "" {
				t.Errorf("telemetry %+v, want %+v", tel, want)
			}
			if tel.Client.Addr() != netip.MustParseAddr("127.0.0.1") || tel.End.Before(tel.Start) || tel.Start.IsZero() {
				t.Errorf("telemetry client/times: %+v", tel)
			}
		})
	}
}

func TestRewrittenDestination(t *testing.T) {
	x := startExactTarget(t, 10)
	// The team asks for the replica address; the gateway dials the
	// target's address on the team's network (here the test's listener).
	asked := netip.MustParseAddrPort("127.61.1.10:10025")
	f := startGateway(t, Options{Allow: []Rule{{Prefix: netip.PrefixFrom(asked.Addr(), 32), FirstPort: asked.Port(), LastPort: asked.Port(),
		Dial: x.addr().Addr(), DialPort: x.addr().Port()}}})
	c, err := f.dialer(t, team, token).Dial("tcp", asked.String())
	if err != nil {
		t.Fatal(err)
	}
	if got := exchange(t, c, 3); got != 10 {
		t.Errorf("read %d", got)
	}
	if s := <-x.seen; s.remote.Addr() != team7Source {
		t.Errorf("target saw %v", s.remote)
	}
	tel := f.rec.next(t)
	if tel.Target != asked.Addr() || tel.Port != asked.Port() || tel.Dialed != x.addr() || tel.BytesUp != 3 || tel.BytesDown != 10 {
		t.Errorf("telemetry %+v", tel)
	}
	// The address it really goes to is not itself allowed.
	if c, err := f.dialer(t, team, token).Dial("tcp", x.addr().String()); err == nil {
		c.Close()
		t.Fatal("the dial address is reachable directly")
	}
	if tel := f.rec.next(t); !tel.Refused {
		t.Errorf("telemetry %+v", tel)
	}
}

func TestAuthFailure(t *testing.T) {
	x := startExactTarget(t, 1)
	f := startGateway(t, Options{Allow: []Rule{AllowAddrPort(x.addr())}})
	for _, tc := range []struct{ desc, user, pass string }{
		{"wrong token", team, "nope"},
		{"wrong user", "Đội 8", token},
		{"token as user", token, token},
		{"empty", "", ""},
		{"prefix of token", team, token[:len(token)-1]},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			c, err := f.dialer(t, tc.user, tc.pass).Dial("tcp", x.addr().String())
			if err == nil {
				c.Close()
				t.Fatal("connected with bad credentials")
			}
			f.rec.none(t)
		})
	}
	select {
	case s := <-x.seen:
		t.Fatalf("target reached: %+v", s)
	default:
	}
}

func TestNoAuthMethodRejected(t *testing.T) {
	f := startGateway(t, Options{})
	d, err := proxy.SOCKS5("tcp", f.addr, nil, proxy.Direct)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := d.Dial("tcp", "127.0.0.1:9"); err == nil {
		c.Close()
		t.Fatal("a client without credentials got through")
	}
}

func TestRefusedDestinations(t *testing.T) {
	x := startExactTarget(t, 1)
	other := startExactTarget(t, 1)
	f := startGateway(t, Options{
		Allow:   []Rule{AllowAddrPort(x.addr())},
		Resolve: map[string]netip.Addr{"other.example.test": other.addr().Addr()},
	})
	for _, tc := range []struct{ desc, dest, host string }{
		{"other port on the target's address", other.addr().String(), ""},
		{"allowed port elsewhere", netip.AddrPortFrom(netip.MustParseAddr("127.0.0.2"), x.addr().Port()).String(), ""},
		{"unknown name", "mail.elsewhere.test:25", "mail.elsewhere.test"},
		{"known name, disallowed address", fmt.Sprintf("other.example.test:%d", other.addr().Port()), "other.example.test"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			c, err := f.dialer(t, team, token).Dial("tcp", tc.dest)
			if err == nil {
				c.Close()
				t.Fatal("connected to a disallowed destination")
			}
			if !strings.Contains(err.Error(), "not allowed by ruleset") {
				t.Errorf("error %v, want the SOCKS ruleset reply", err)
			}
			tel := f.rec.next(t)
			if !tel.Refused || tel.Team != team || tel.Host != tc.host || tel.BytesUp != 0 {
				t.Errorf("telemetry %+v, want a refusal of %s", tel, tc.dest)
			}
		})
	}
	select {
	case s := <-other.seen:
		t.Fatalf("disallowed target reached: %+v", s)
	case <-time.After(20 * time.Millisecond):
	}
}

func TestUnreachableTargetRecorded(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := addrPortOf(ln.Addr())
	ln.Close()
	f := startGateway(t, Options{Allow: []Rule{AllowAddrPort(dead)}})
	if c, err := f.dialer(t, team, token).Dial("tcp", dead.String()); err == nil {
		c.Close()
		t.Fatal("connected to a closed port")
	}
	tel := f.rec.next(t)
	if tel.Refused || tel.Error == "" || tel.Target != dead.Addr() || tel.Port != dead.Port() {
		t.Errorf("telemetry %+v, want an unreachable target", tel)
	}
}

func TestConcurrentConnections(t *testing.T) {
	x := startExactTarget(t, 100)
	f := startGateway(t, Options{Allow: []Rule{{Prefix: netip.MustParsePrefix("127.0.0.0/8")}}})
	d := f.dialer(t, short, token)
	const n = 64
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := d.Dial("tcp", x.addr().String())
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			c.Write(bytes.Repeat([]byte{'u'}, 1000+i))
			c.(interface{ CloseWrite() error }).CloseWrite()
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			if got, err := io.Copy(io.Discard, c); err != nil || got != 100 {
				errs <- fmt.Errorf("read %d, %v", got, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var up int64
	for range n {
		tel := f.rec.next(t)
		if tel.BytesDown != 100 || tel.Refused {
			t.Errorf("telemetry %+v", tel)
		}
		up += tel.BytesUp
	}
	if want := int64(n*1000 + n*(n-1)/2); up != want {
		t.Errorf("bytes up %d, want %d", up, want)
	}
}

func TestCloseEndsIdleConnectionsAndRecordsThem(t *testing.T) {
	// A target that never speaks: only Close can end its connection.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var held sync.WaitGroup
	held.Add(1)
	go func() {
		defer held.Done()
		c, err := ln.Accept()
		if err != nil {
			return
		}
		io.Copy(io.Discard, c)
		c.Close()
	}()
	rec := newRecorder()
	g, err := New(Options{Team: team, Password: token, Allow: []Rule{AllowAddrPort(addrPortOf(ln.Addr()))}, Record: rec.record})
	if err != nil {
		t.Fatal(err)
	}
	gl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- g.Serve(context.Background(), gl) }()
	d, err := proxy.SOCKS5("tcp", gl.Addr().String(), &proxy.Auth{User: team, Password: token}, proxy.Direct)
	if err != nil {
		t.Fatal(err)
	}
	c, err := d.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("hello"))
	// An idle client that never finished its handshake, too.
	idle, err := net.Dial("tcp", gl.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	time.Sleep(50 * time.Millisecond)
	g.Close()
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if tel := rec.next(t); tel.BytesUp != 5 {
		t.Errorf("telemetry %+v, want 5 bytes up", tel)
	}
	if err := g.Serve(context.Background(), gl); !errors.Is(err, ErrClosed) {
		t.Errorf("Serve after Close: %v", err)
	}
	held.Wait()
}

func TestServeStopsWithContext(t *testing.T) {
	g, err := New(Options{Team: team, Password: token})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Serve(ctx, ln) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Serve did not return")
	}
}

func TestHandshakeTimeout(t *testing.T) {
	f := startGateway(t, Options{HandshakeTimeout: 100 * time.Millisecond})
	c, err := net.Dial("tcp", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// A hang guard only: the gateway closing first is what counts.
	c.SetReadDeadline(time.Now().Add(time.Minute))
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read %v, want EOF when the gateway gives up", err)
	}
}

func TestNewRejects(t *testing.T) {
	for _, tc := range []struct {
		desc string
		o    Options
	}{
		{"no team", Options{Password: "x"}},
		{"no token", Options{Team: "t"}},
		{"long token", Options{Team: "t", Password: strings.Repeat("x", 256)}},
		{"rule without prefix", Options{Team: "t", Password: "x", Allow: []Rule{{FirstPort: 1, LastPort: 1}}}},
		{"bad name", Options{Team: "t", Password: "x", Resolve: map[string]netip.Addr{"a b": netip.MustParseAddr("127.0.0.1")}}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			if _, err := New(tc.o); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

// requireTool finds an external client; missing curl fails when CI says
// the full toolset must be there.
func requireTool(t *testing.T, name string, required bool) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if required && os.Getenv("CYRANGE_REQUIRE_DOCKER") == "1" {
			t.Fatalf("%s not installed but CYRANGE_REQUIRE_DOCKER=1", name)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

// httpTarget answers every request with the address it came from.
func httpTarget(t *testing.T) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "from %s host %s\n", r.RemoteAddr, r.Host)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return addrPortOf(ln.Addr())
}

func TestCurl(t *testing.T) {
	curl := requireTool(t, "curl", true)
	target := httpTarget(t)
	f := startGateway(t, Options{Allow: []Rule{AllowAddrPort(target)},
		Resolve: map[string]netip.Addr{"mail.tiengiang.test": target.Addr()}})
	for _, tc := range []struct {
		desc    string
		args    []string
		refused bool
	}{
		{"socks5-hostname with a name", []string{"--socks5-hostname", f.addr, "--proxy-user", short + ":" + token,
			fmt.Sprintf("http://mail.tiengiang.test:%d/", target.Port())}, false},
		{"socks5 with an address", []string{"--socks5", f.addr, "--proxy-user", team + ":" + token,
			fmt.Sprintf("http://%s/", target)}, false},
		{"proxy URL", []string{"-x", fmt.Sprintf("socks5h://%s:%s@%s", short, token, f.addr),
			fmt.Sprintf("http://mail.tiengiang.test:%d/", target.Port())}, false},
		{"refused port", []string{"--socks5-hostname", f.addr, "--proxy-user", short + ":" + token,
			fmt.Sprintf("http://mail.tiengiang.test:%d/", target.Port()+1)}, true},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var stdout, stderr bytes.Buffer
			cmd := exec.CommandContext(ctx, curl, append([]string{"-sS", "--max-time", "5"}, tc.args...)...)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			tel := f.rec.next(t)
			if tc.refused {
				if err == nil {
					t.Fatalf("curl got through: %s", stdout.String())
				}
				if !tel.Refused {
					t.Errorf("telemetry %+v, want refused", tel)
				}
				return
			}
			if err != nil {
				t.Fatalf("curl: %v: %s", err, stderr.String())
			}
			if !strings.HasPrefix(stdout.String(), "from "+team7Source.String()+":") {
				t.Errorf("target answered %q, want a connection from %s", stdout.String(), team7Source)
			}
			if tel.Refused || tel.BytesUp == 0 || tel.BytesDown < int64(stdout.Len()) {
				t.Errorf("telemetry %+v", tel)
			}
		})
	}
}

// TestProxychains runs curl under proxychains-ng, which hands every
// connection of an unmodified program to the gateway: with proxy_dns, the
// name goes to the gateway, which resolves it.
func TestProxychains(t *testing.T) {
	pc := requireTool(t, "proxychains4", true)
	curl := requireTool(t, "curl", true)
	target := httpTarget(t)
	f := startGateway(t, Options{Allow: []Rule{AllowAddrPort(target)},
		Resolve: map[string]netip.Addr{"mail.tiengiang.test": target.Addr()}})
	gw := netip.MustParseAddrPort(f.addr)
	conf := filepath.Join(t.TempDir(), "proxychains.conf")
	err := os.WriteFile(conf, []byte(fmt.Sprintf("strict_chain\nproxy_dns\ntcp_read_time_out 5000\ntcp_connect_time_out 5000\n[ProxyList]\nsocks5 %s %d %s %s\n",
		gw.Addr(), gw.Port(), short, token)), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, pc, "-q", "-f", conf, curl, "-sS", "--max-time", "5",
		fmt.Sprintf("http://mail.tiengiang.test:%d/", target.Port()))
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("proxychains4 curl: %v: %s", err, stderr.String())
	}
	if !strings.HasPrefix(stdout.String(), "from "+team7Source.String()+":") || !strings.Contains(stdout.String(), "host mail.tiengiang.test") {
		t.Errorf("target answered %q, want a connection from %s for mail.tiengiang.test", stdout.String(), team7Source)
	}
	if tel := f.rec.next(t); tel.Refused || tel.BytesUp == 0 {
		t.Errorf("telemetry %+v", tel)
	}
}

func TestNcat(t *testing.T) {
	ncat := requireTool(t, "ncat", true)
	x := startExactTarget(t, 3)
	f := startGateway(t, Options{Allow: []Rule{AllowAddrPort(x.addr())}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, ncat, "--proxy", f.addr, "--proxy-type", "socks5",
		"--proxy-auth", short+":"+token, x.addr().Addr().String(), fmt.Sprint(x.addr().Port()))
	cmd.Stdin = strings.NewReader("hello")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ncat: %v", err)
	}
	if string(out) != "ddd" {
		t.Errorf("ncat read %q", out)
	}
	if s := <-x.seen; s.remote.Addr() != team7Source || s.read != 5 {
		t.Errorf("target saw %+v", s)
	}
	if tel := f.rec.next(t); tel.BytesUp != 5 || tel.BytesDown != 3 {
		t.Errorf("telemetry %+v", tel)
	}
}
