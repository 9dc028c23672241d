package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"net/textproto"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"golang.org/x/net/proxy"

	"github.com/cyrange/cyrange/images/mailserver/webclient"
	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/scenarios"
)

// flood holds connections to addr from a few loopback sources, each
// opening again after the server closed it (a deadline, an eviction),
// until stopped: the load a player keeps up without a token.
type flood struct {
	addr   string
	hello  []byte // what each connection sends first
	open   atomic.Int64
	opened atomic.Int64
	stop   chan struct{}
	wg     sync.WaitGroup

	mu      sync.Mutex
	conns   map[net.Conn]bool
	stopped bool
}

// holdFlood starts n connections from each source to addr; it returns once
// each has been answered once (the server accepted it).
func holdFlood(t *testing.T, addr string, hello []byte, sources map[string]int) *flood {
	t.Helper()
	f := &flood{addr: addr, hello: hello, stop: make(chan struct{}), conns: map[net.Conn]bool{}}
	t.Cleanup(f.end)
	var ready sync.WaitGroup
	for src, n := range sources {
		for range n {
			ready.Add(1)
			f.wg.Go(func() { f.hold(src, &ready) })
		}
	}
	all := make(chan struct{})
	go func() {
		ready.Wait()
		close(all)
	}()
	select {
	case <-all:
	case <-time.After(3 * time.Minute): // a hang guard only
		t.Fatalf("the flood of %s never got all its connections answered", addr)
	}
	return f
}

func (f *flood) hold(src string, ready *sync.WaitGroup) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 10 * time.Second}
	first := true
	defer func() {
		if first {
			ready.Done()
		}
	}()
	buf := make([]byte, 512)
	for {
		c, err := d.Dial("tcp", f.addr)
		if err == nil {
			f.mu.Lock()
			if f.stopped {
				f.mu.Unlock()
				c.Close()
				return
			}
			f.conns[c] = true
			f.mu.Unlock()
			f.opened.Add(1)
			f.open.Add(1)
			c.Write(f.hello)
			// The first answer says the server took it.
			_, err = c.Read(buf)
			if first {
				first = false
				ready.Done()
			}
			for err == nil {
				_, err = c.Read(buf)
			}
			f.open.Add(-1)
			f.mu.Lock()
			delete(f.conns, c)
			f.mu.Unlock()
			c.Close()
		}
		select {
		case <-f.stop:
			return
		case <-time.After(time.Second):
		}
	}
}

func (f *flood) end() {
	select {
	case <-f.stop:
		return
	default:
	}
	close(f.stop)
	f.mu.Lock()
	f.stopped = true
	for c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

// floodSources spreads a flood over loopback addresses of the test's own
// team range: one source holding more than its share, and many sources
// holding more than the pool together.
func floodSources(base netip.Addr, heavy, many, each int) map[string]int {
	out := map[string]int{floodSource(base, 0): heavy}
	for i := 1; i <= many; i++ {
		out[floodSource(base, i)] = each
	}
	return out
}

// floodSource is the address of source i of a flood, in a /24 of the
// test's team range that no team has.
func floodSource(base netip.Addr, i int) string {
	a := base.As4()
	a[2], a[3] = 200, byte(1+i)
	return netip.AddrFrom4(a).String()
}

// TestChaosFloods holds floods against a running exercise on the local
// driver while its real teams are served: the TCP submission port and a
// team's gateway (issue 11 items 4 and 5), then the web's sessions (item
// 6); the live viewers' slot (item 7) waits for its hardening.
func TestChaosFloods(t *testing.T) {
	if testing.Short() {
		t.Skip("an exercise runs for tens of seconds")
	}
	dir := t.TempDir()
	scen := shortScenario(t, dir, "demo", "chaos-floods")
	data := filepath.Join(dir, "data")
	sc, err := scenarios.Open(scen)
	if err != nil {
		t.Fatal(err)
	}
	killLeftovers(t, data)
	downAtCleanup(t, scen, data, cyberrange.DriverLocal)
	// A small share of the public stream per address, so that the live
	// viewers' case can fill it.
	s := startCyrange(t, filepath.Dir(data), 90*time.Second, "run", scen, "--driver", cyberrange.DriverLocal, "--data", data,
		"--http", "127.0.0.1:0", "--submit", "127.0.0.1:0", "--live-per-source", strconv.Itoa(chaosViewersPerSource))
	gameAction(t, data, "start")
	toks := readTokens(t, data)
	var attack []teamToken
	defence, defenceToken := "", ""
	for _, tm := range toks.Teams {
		if tm.Role == "attack" {
			attack = append(attack, teamToken{tm.Name, tm.Token})
		} else {
			defence, defenceToken = tm.Name, tm.Token
		}
	}
	svc := sc.Services[0]
	waitOK(t, s, defence, svc.Name, 0)
	teamsBase := sc.Network.Local.Teams.Addr()

	t.Run("tcp submission", func(t *testing.T) {
		// A team connected before the flood stays served through it.
		early, err := net.DialTimeout("tcp", s.submit, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer early.Close()
		early.SetDeadline(time.Now().Add(5 * time.Minute)) // a hang guard only
		io.WriteString(early, attack[1].token+"\n")
		earlyR := bufio.NewReader(early)

		// 300 from one source (its share is 128), 12 more of 90 each:
		// 1,380 against a pool of 1,024.
		fl := holdFlood(t, s.submit, []byte("\n"), floodSources(teamsBase, 300, 12, 90))
		held := fl.open.Load()
		// Served means answered: OK for a fresh flag, DUP for one sent
		// already, OLD should the game have moved on meanwhile; never
		// ERR, and never no answer.
		served, total := 0, 0
		okBy := map[string]int{}
		count := func(team teamToken, flags []string, codes map[string]string) {
			for _, f := range flags {
				total++
				switch codes[f] {
				case "OK":
					okBy[team.name]++
					fallthrough
				case "DUP", "OLD":
					served++
				default:
					t.Errorf("%s: flag %s answered %q under the flood", team.name, f, codes[f])
				}
			}
		}
		flags := currentFlags(t, s, toks.Organizer)
		// A new connection, then one from the flood's own address (a
		// team behind the flooder's NAT), then the one made before.
		count(attack[0], flags, submitCodes(t, "", s.submit, attack[0].token, flags))
		heavy := floodSource(teamsBase, 0)
		count(attack[0], flags, submitCodes(t, heavy, s.submit, attack[0].token, flags))
		for _, f := range flags {
			io.WriteString(early, f+"\n")
		}
		codes := map[string]string{}
		for len(codes) < len(flags) {
			line, err := earlyR.ReadString('\n')
			if err != nil {
				t.Fatalf("the connection made before the flood: %v", err)
			}
			if f := strings.Fields(line); len(f) >= 2 && len(f[0]) == 32 {
				codes[f[0]] = f[1]
			}
		}
		count(attack[1], flags, codes)
		heldAfter := fl.open.Load()
		fl.end()
		lost := capturesShort(t, s, toks.Organizer, okBy)
		figure(t, "tcp flood: %d connections held without a token from 13 sources (%d at the end, %d opened in all); a new connection, one from the flooding address and one made before the flood were answered %d/%d flags (%d OK), %d lost",
			held, heldAfter, fl.opened.Load(), served, total, okBy[attack[0].name]+okBy[attack[1].name], lost)
	})

	t.Run("gateway", func(t *testing.T) {
		team := &attackTeam{name: attack[2].name, token: attack[2].token, sent: map[string]bool{}}
		var tg struct {
			Gateway cyberrange.GatewayInfo `json:"gateway"`
		}
		getJSON(t, "http://"+s.http+"/api/v1/targets", team.token, &tg)
		// A session opened before the flood goes on through it.
		d, err := proxy.SOCKS5("tcp", tg.Gateway.Address, &proxy.Auth{User: tg.Gateway.Short, Password: team.token}, proxy.Direct)
		if err != nil {
			t.Fatal(err)
		}
		target := net.JoinHostPort("mail.d01", strconv.Itoa(svc.Ports[0].Number+cyberrange.LocalPortOffset))
		earlySession, err := d.Dial("tcp", target)
		if err != nil {
			t.Fatalf("through the gateway before the flood: %v", err)
		}
		defer earlySession.Close()
		earlySession.SetDeadline(time.Now().Add(5 * time.Minute)) // a hang guard only
		early := bufio.NewReader(earlySession)
		if greeting, err := early.ReadString('\n'); err != nil || !strings.HasPrefix(greeting, "220") {
			t.Fatalf("the target's greeting through the gateway: %q %v", greeting, err)
		}
		// The user/password method offered, then silence: 200 from one
		// source (its share is 128), 6 more of 90: 740 against 512.
		fl := holdFlood(t, tg.Gateway.Address, []byte{5, 1, 2}, floodSources(teamsBase, 200, 6, 90))
		held := fl.open.Load()
		ports := map[string]int{}
		for _, p := range svc.Ports {
			ports[p.Name] = p.Number + cyberrange.LocalPortOffset
		}
		deadline := time.Now().Add(3 * time.Minute)
		captured := 0
		for captured == 0 {
			n, err := attackRound(t, s, team, ports, svc.Options.String("domain", ""))
			captured += n
			if captured == 0 && time.Now().After(deadline) {
				t.Fatalf("%s captured nothing through its flooded gateway: %v", team.name, err)
			}
		}
		io.WriteString(earlySession, "NOOP\r\n")
		if reply, err := early.ReadString('\n'); err != nil || !strings.HasPrefix(reply, "250") {
			t.Errorf("the session opened before the flood: %q %v", reply, err)
		}
		heldAfter := fl.open.Load()
		fl.end()
		lost := capturesShort(t, s, toks.Organizer, map[string]int{team.name: len(team.acked)})
		figure(t, "gateway flood: %d unauthenticated connections held at %s's gateway from 7 sources (%d at the end, %d opened in all), the team captured %d flags through it and a session opened before went on, %d lost",
			held, team.name, heldAfter, fl.opened.Load(), captured, lost)
	})

	t.Run("web sessions", func(t *testing.T) {
		login := func(token string) *http.Cookie {
			resp, err := http.Post("http://"+s.http+"/api/v1/login", "application/json", strings.NewReader(`{"token":"`+token+`"}`))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			io.Copy(io.Discard, resp.Body)
			for _, c := range resp.Cookies() {
				if resp.StatusCode == 200 && c.Value != "" {
					return c
				}
			}
			return nil
		}
		organizer, def := login(toks.Organizer), login(defenceToken)
		if organizer == nil || def == nil {
			t.Fatal("the organizer or the defence cannot log in")
		}
		// One team logs in again and again, as many times as the table
		// used to hold, and one more.
		const logins = 10001
		var accepted atomic.Int64
		var wg sync.WaitGroup
		work := make(chan struct{})
		for range 8 {
			wg.Go(func() {
				client := &http.Client{Timeout: time.Minute}
				for range work {
					resp, err := client.Post("http://"+s.http+"/api/v1/login", "application/json", strings.NewReader(`{"token":"`+attack[0].token+`"}`))
					if err != nil {
						continue
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode == 200 {
						accepted.Add(1)
					}
				}
			})
		}
		for range logins {
			work <- struct{}{}
		}
		close(work)
		wg.Wait()
		var lost []string
		for who, c := range map[string]*http.Cookie{"organizer": organizer, "defence": def} {
			req, _ := http.NewRequest(http.MethodGet, "http://"+s.http+"/api/v1/me", nil)
			req.AddCookie(c)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				lost = append(lost, fmt.Sprintf("the %s's session (%s)", who, resp.Status))
			}
		}
		slices.Sort(lost)
		figure(t, "web session flood: %d logins by one team (%d accepted); organizer and defence sessions lost: %d %v", logins, accepted.Load(), len(lost), lost)
		if len(lost) > 0 {
			t.Fatalf("a team's logins evicted %v", lost)
		}
	})

	t.Run("live viewers", func(t *testing.T) {
		// The audience at this address takes all the public stream it
		// may, and more is refused.
		var viewers []*websocket.Conn
		defer func() {
			for _, v := range viewers {
				v.Close()
			}
		}()
		refused := 0
		for len(viewers) <= chaosViewersPerSource && refused == 0 {
			ws, _, err := websocket.DefaultDialer.Dial("ws://"+s.http+"/api/v1/live", nil)
			if err != nil {
				refused++
				break
			}
			viewers = append(viewers, ws)
		}
		if len(viewers) != chaosViewersPerSource || refused == 0 {
			t.Fatalf("%d public viewers from one address, %d refused; want %d and a refusal", len(viewers), refused, chaosViewersPerSource)
		}
		// The defence's log stream and the organizer's console, from that
		// very address, and a viewer from another address still connect
		// and get their snapshot.
		other := websocket.Dialer{NetDialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(floodSource(teamsBase, 40))}}).DialContext}
		served := 0
		for _, c := range []struct {
			who, path string
			dialer    *websocket.Dialer
			header    http.Header
		}{
			{"defence", "/api/v1/team/live", websocket.DefaultDialer, http.Header{"X-Team-Token": {defenceToken}}},
			{"organizer", "/api/v1/admin/live", websocket.DefaultDialer, http.Header{"Authorization": {"Bearer " + toks.Organizer}}},
			{"a viewer elsewhere", "/api/v1/live", &other, nil},
		} {
			ws, resp, err := c.dialer.Dial("ws://"+s.http+c.path, c.header)
			if err != nil {
				status := ""
				if resp != nil {
					status = resp.Status
				}
				t.Fatalf("the %s, with the public stream full at this address: %v %s", c.who, err, status)
			}
			ws.SetReadDeadline(time.Now().Add(time.Minute)) // a hang guard only
			var m struct{ Type string }
			if err := ws.ReadJSON(&m); err != nil || m.Type != "snapshot" {
				t.Fatalf("the %s's first message: %q %v", c.who, m.Type, err)
			}
			ws.Close()
			served++
		}
		figure(t, "live viewers: %d public viewers held from one address (its share), the next refused; defence, organizer and a viewer elsewhere served %d/3",
			len(viewers), served)
	})

	t.Run("mail fill", func(t *testing.T) {
		// A team fills the replica's mail through its gateway with the
		// largest messages it may send, until refused: the target keeps
		// running, and the checker finds it OK the tick after.
		before := localProcesses(t, data)
		var tg struct {
			Gateway cyberrange.GatewayInfo `json:"gateway"`
			Targets []struct {
				Address string `json:"address"`
			} `json:"targets"`
		}
		getJSON(t, "http://"+s.http+"/api/v1/targets", attack[2].token, &tg)
		d, err := proxy.SOCKS5("tcp", tg.Gateway.Address, &proxy.Auth{User: tg.Gateway.Short, Password: attack[2].token}, proxy.Direct)
		if err != nil {
			t.Fatal(err)
		}
		smtpPort, httpPort := 0, 0
		for _, p := range svc.Ports {
			switch p.Name {
			case "smtp":
				smtpPort = p.Number + cyberrange.LocalPortOffset
			case "http":
				httpPort = p.Number + cyberrange.LocalPortOffset
			}
		}
		host := tg.Targets[0].Address
		dir, err := webclient.New("http://"+net.JoinHostPort(host, strconv.Itoa(httpPort)), d.(proxy.ContextDialer)).Directory(context.Background())
		if err != nil || len(dir) == 0 {
			t.Fatalf("the replica's directory through the gateway: %v", err)
		}
		line := "Báo cáo tổng hợp tình hình an toàn thông tin, bản chi tiết.\r\n"
		body := strings.Repeat(line, 9_000_000/len(line))
		sent, refusedAt := 0, ""
		for i := 0; i < 64 && refusedAt == ""; i++ {
			reply, err := sendBig(d, net.JoinHostPort(host, strconv.Itoa(smtpPort)), sc.Services[0].Options["domain"].(string), dir[i%len(dir)].Email, body)
			switch {
			case err != nil:
				t.Fatalf("message %d: %v", i+1, err)
			case reply != "":
				refusedAt = reply
			default:
				sent++
			}
		}
		if refusedAt == "" {
			t.Fatalf("%d messages of 9 MB accepted and no quota refused one", sent)
		}
		tick, _ := waitOK(t, s, defence, svc.Name, currentTick(t, s))
		after := localProcesses(t, data)
		if !maps.Equal(before, after) {
			t.Fatalf("the range's processes changed under the fill: before %v, after %v", before, after)
		}
		figure(t, "mail fill: %d messages of 9 MB accepted through a gateway, then refused (%s); the target kept running, the checker OK at tick %d",
			sent, strings.TrimSpace(refusedAt), tick)
	})
	s.stop(t)
}

// teamToken is a team's name and token.
type teamToken struct{ name, token string }

// currentFlags returns the flags of the current tick and the one before.
func currentFlags(t *testing.T, s *server, organizer string) []string {
	t.Helper()
	var v scoreboardView
	getJSON(t, "http://"+s.http+"/api/v1/scoreboard", "", &v)
	var out []string
	for tick := max(1, v.Tick-1); tick <= v.Tick; tick++ {
		var fl []issued
		getJSON(t, fmt.Sprintf("http://%s/api/v1/admin/flags?tick=%d", s.http, tick), organizer, &fl)
		for _, f := range fl {
			out = append(out, f.Flag)
		}
	}
	return out
}

// capturesShort returns by how many captures the standings fall short of
// what each team was told OK.
func capturesShort(t *testing.T, s *server, organizer string, acked map[string]int) int {
	t.Helper()
	var live struct {
		Standings []standing `json:"standings"`
	}
	getJSON(t, "http://"+s.http+"/api/v1/admin/scoreboard", organizer, &live)
	short := 0
	for _, st := range live.Standings {
		if n, ok := acked[st.Team]; ok && st.Captures < n {
			short += n - st.Captures
			t.Errorf("%s: %d captures in the standings, %d acknowledged", st.Team, st.Captures, n)
		}
	}
	return short
}

// chaosViewersPerSource is the public stream's share of one address in
// the floods' exercise.
const chaosViewersPerSource = 40

// sendBig sends one message of body to rcpt over SMTP through d, and
// returns the server's refusal, "" when it was accepted.
func sendBig(d proxy.Dialer, addr, domain, rcpt, body string) (string, error) {
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		return "", err
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(3 * time.Minute)) // a hang guard only
	c := textproto.NewConn(nc)
	step := func(cmd string, want int) (string, error) {
		if cmd != "" {
			if err := c.PrintfLine("%s", cmd); err != nil {
				return "", err
			}
		}
		code, msg, err := c.ReadResponse(want)
		var te *textproto.Error
		if errors.As(err, &te) && code >= 400 {
			return fmt.Sprintf("%d %s", code, msg), nil
		}
		return "", err
	}
	for _, s := range []struct {
		cmd  string
		want int
	}{{"", 220}, {"EHLO chaos." + domain, 250}, {"MAIL FROM:<chaos@example.org>", 250}, {"RCPT TO:<" + rcpt + ">", 250}, {"DATA", 354}} {
		if refused, err := step(s.cmd, s.want); refused != "" || err != nil {
			return refused, err
		}
	}
	w := c.DotWriter()
	fmt.Fprintf(w, "From: <chaos@example.org>\r\nTo: <%s>\r\nSubject: bao cao\r\n\r\n%s", rcpt, body)
	if err := w.Close(); err != nil {
		return "", err
	}
	refused, err := step("", 250)
	if refused == "" && err == nil {
		c.PrintfLine("QUIT")
	}
	return refused, err
}

// currentTick is the game's tick now.
func currentTick(t *testing.T, s *server) int32 {
	t.Helper()
	var v scoreboardView
	getJSON(t, "http://"+s.http+"/api/v1/scoreboard", "", &v)
	return v.Tick
}
