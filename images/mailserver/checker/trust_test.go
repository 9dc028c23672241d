package checker_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/cyrange/cyrange/images/mailserver"
	"github.com/cyrange/cyrange/images/mailserver/checker"
	"github.com/cyrange/cyrange/images/mailserver/contract"
	"github.com/cyrange/cyrange/images/mailserver/webclient"
	"github.com/cyrange/cyrange/images/target/targettest"
	"github.com/cyrange/cyrange/scoreboard/checks"
)

// recorder is an attacker's listener: it answers as a mail server's ports
// would, just enough to be logged in to, and keeps every byte it gets.
type recorder struct {
	mu    sync.Mutex
	conns int
	got   strings.Builder
}

func (r *recorder) add(p []byte) {
	r.mu.Lock()
	r.got.Write(p)
	r.mu.Unlock()
}

func (r *recorder) seen() (int, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.conns, r.got.String()
}

// fakeReplica listens on host at the real replica's ports: it serves the
// real replica's public directory (so that a checker picks a real leader)
// and records whatever a client sends to its SMTP, IMAP and webmail.
func fakeReplica(t *testing.T, host string, real *mailserver.Server) *recorder {
	t.Helper()
	contacts, err := webclient.New("http://"+real.AddrHTTP(), nil).Directory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	directory, _ := json.Marshal(contacts)
	rec := &recorder{}
	var wg sync.WaitGroup
	var lns []net.Listener
	listen := func(addr string) net.Listener {
		_, p, _ := net.SplitHostPort(addr)
		ln, err := net.Listen("tcp", net.JoinHostPort(host, p))
		if err != nil {
			t.Fatal(err)
		}
		return ln
	}
	// SMTP and IMAP: greet, accept every line, record it.
	for _, spec := range []struct{ addr, greet, ok string }{
		{real.AddrSMTP(), "220 mail ESMTP\r\n", "250 ok\r\n"},
		{real.AddrIMAP(), "* OK IMAP4rev1 ready\r\n", "* OK\r\n"},
	} {
		ln := listen(spec.addr)
		lns = append(lns, ln)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				rec.mu.Lock()
				rec.conns++
				rec.mu.Unlock()
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer c.Close()
					_ = c.SetDeadline(time.Now().Add(10 * time.Second))
					_, _ = io.WriteString(c, spec.greet)
					br := bufio.NewReader(c)
					for {
						line, err := br.ReadString('\n')
						rec.add([]byte(line))
						if err != nil {
							return
						}
						tag, _, _ := strings.Cut(line, " ")
						_, _ = io.WriteString(c, spec.ok+tag+" OK\r\n")
					}
				}()
			}
		}()
	}
	ln := listen(real.AddrHTTP())
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.mu.Lock()
		rec.conns++
		rec.mu.Unlock()
		body, _ := io.ReadAll(r.Body)
		rec.add([]byte(r.Method + " " + r.URL.String() + "\n" + string(body) + "\n"))
		if r.URL.Path == "/danhba.json" {
			_, _ = w.Write(directory)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"user":"x","name":"x"}`)
	}), ReadHeaderTimeout: 10 * time.Second}
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = hs.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = hs.Close()
		for _, ln := range lns {
			_ = ln.Close()
		}
		wg.Wait()
	})
	return rec
}

// leaked reports whether s holds the master password of any listed
// contact, under any replica name a game could give.
func leaked(t *testing.T, real *mailserver.Server, s string, replicas ...string) bool {
	t.Helper()
	contacts, err := webclient.New("http://"+real.AddrHTTP(), nil).Directory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range contacts {
		for _, r := range replicas {
			if strings.Contains(s, contract.MasterPassword(secret, r, c.Email)) {
				return true
			}
		}
	}
	return false
}

// TestCheckerTalksOnlyToItsReplicas points tasks at an attacker's
// listener on another loopback address: the checker refuses them without
// connecting, so no credential reaches it.
func TestCheckerTalksOnlyToItsReplicas(t *testing.T) {
	e := start(t, nil)
	rec := fakeReplica(t, "127.0.0.66", e.srv)
	flag := targettest.NewFlag()
	for _, tk := range []checks.Task{
		task(checks.PutFlag, 0, flag), task(checks.GetFlag, 0, flag), task(checks.GetFlag, 1, flag),
		task(checks.GetFlag, 2, flag), task(checks.PutNoise, 0, ""), task(checks.Havoc, 2, ""),
	} {
		tk.Address = "127.0.0.66"
		res := targettest.Run(t, e.c, tk)
		if res.Result == checks.OK || res.Message == nil || !strings.Contains(*res.Message, "not a replica") {
			t.Errorf("%s to an unknown address: %s %v", tk.Method, res.Result, res.Message)
		}
	}
	conns, got := rec.seen()
	if conns > 0 || leaked(t, e.srv, got, "", "mail.d01") {
		t.Errorf("the attacker's listener got %d connections; a master password leaked: %v", conns, leaked(t, e.srv, got, "", "mail.d01"))
	}
	// The real replica is still served.
	targettest.Expect(t, e.c, task(checks.PutFlag, 0, flag), checks.OK)
	targettest.Expect(t, e.c, task(checks.GetFlag, 0, flag), checks.OK)
}

// TestCheckerAuthenticatesItsCaller serves the checker as its role does
// and calls it without its token, with a wrong one and with the right one.
func TestCheckerAuthenticatesItsCaller(t *testing.T) {
	e := start(t, nil)
	rec := fakeReplica(t, "127.0.0.67", e.srv)
	base := targettest.ServeChecker(t, checker.RunChecker, "--listen", "127.0.0.1:0", "--checker-secret", secret,
		"--smtp-port", strconv.Itoa(targettest.Port(t, e.srv.AddrSMTP())), "--imap-port", strconv.Itoa(targettest.Port(t, e.srv.AddrIMAP())),
		"--http-port", strconv.Itoa(targettest.Port(t, e.srv.AddrHTTP())), "--targets", "127.0.0.1="+replicaName)
	hc := &http.Client{Timeout: 30 * time.Second}
	t.Cleanup(hc.CloseIdleConnections)

	stolen := task(checks.GetFlag, 0, targettest.NewFlag())
	stolen.Address = "127.0.0.67"
	targettest.RequiresToken(t, hc, base, secret, stolen)
	if conns, _ := rec.seen(); conns > 0 {
		t.Errorf("an unauthenticated task made the checker connect %d times", conns)
	}

	// The game, with the token derived from the secret, is served.
	cl := checks.NewClient(base, hc, checks.WithToken(checks.CallerToken(secret)))
	if info, err := cl.Info(context.Background()); err != nil || info.ServiceName != "mailserver" {
		t.Fatalf("info with the token: %+v %v", info, err)
	}
	flag := targettest.NewFlag()
	targettest.Expect(t, cl, task(checks.PutFlag, 0, flag), checks.OK)
	targettest.Expect(t, cl, task(checks.GetFlag, 0, flag), checks.OK)
	res := targettest.Run(t, cl, stolen)
	if res.Result == checks.OK || res.Message == nil || !strings.Contains(*res.Message, "not a replica") {
		t.Errorf("an authenticated task to an unknown address: %s %v", res.Result, res.Message)
	}
}

// TestMasterPasswordsDifferPerReplica: two replicas share the checker
// secret; what the checker uses on one opens nothing on the other.
func TestMasterPasswordsDifferPerReplica(t *testing.T) {
	a := start(t, nil) // replicaName
	b := startReplica(t, nil, "mail.d02")
	leader := leaderOf(t, a.srv)
	if c, err := loginIMAP(a.srv.AddrIMAP(), leader, contract.MasterPassword(secret, replicaName, leader)); err != nil {
		t.Fatalf("replica A's master password on replica A: %v", err)
	} else {
		_ = c.Close()
	}
	if c, err := loginIMAP(b.srv.AddrIMAP(), leader, contract.MasterPassword(secret, replicaName, leader)); err == nil {
		_ = c.Close()
		t.Error("replica A's master password opened replica B")
	}
	// A checker told the wrong replica for an address cannot log in.
	wrong := checker.New(checker.Config{Secret: secret, Think: -1, Replicas: map[string]string{"127.0.0.1": "mail.d02"},
		SMTPPort: targettest.Port(t, a.srv.AddrSMTP()), IMAPPort: targettest.Port(t, a.srv.AddrIMAP()), HTTPPort: targettest.Port(t, a.srv.AddrHTTP())})
	targettest.Expect(t, wrong, task(checks.PutFlag, 0, targettest.NewFlag()), checks.Mumble)
}

// leaderOf returns the address of a provincial leader of srv.
func leaderOf(t *testing.T, srv *mailserver.Server) string {
	t.Helper()
	contacts, err := webclient.New("http://"+srv.AddrHTTP(), nil).Directory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range contacts {
		if strings.Contains(c.Title, "Chủ tịch UBND tỉnh") {
			return c.Email
		}
	}
	t.Fatal("no leader in the directory")
	return ""
}

// loginIMAP logs in to the IMAP server at addr.
func loginIMAP(addr, user, password string) (*imapclient.Client, error) {
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		return nil, err
	}
	if err := c.Login(user, password).Wait(); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}
