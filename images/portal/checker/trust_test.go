package checker_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cyrange/cyrange/images/portal"
	"github.com/cyrange/cyrange/images/portal/checker"
	"github.com/cyrange/cyrange/images/portal/contract"
	"github.com/cyrange/cyrange/images/portal/portalclient"
	"github.com/cyrange/cyrange/images/target/targettest"
	"github.com/cyrange/cyrange/scoreboard/checks"
)

// recorder is an attacker's listener: it answers as the portal's pages
// would, just enough to be logged in to, and keeps every byte it gets.
type recorder struct {
	mu    sync.Mutex
	conns int
	got   strings.Builder
}

func (r *recorder) seen() (int, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.conns, r.got.String()
}

// fakeReplica listens on host at the real replica's public port: it
// serves the real replica's pages (so that a checker picks real officers)
// and records whatever a client sends.
func fakeReplica(t *testing.T, host string, real *portal.Server) *recorder {
	t.Helper()
	rec := &recorder{}
	_, p, _ := net.SplitHostPort(real.AddrHTTP())
	ln, err := net.Listen("tcp", net.JoinHostPort(host, p))
	if err != nil {
		t.Fatal(err)
	}
	pc := portalclient.New("http://"+real.AddrHTTP(), nil)
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.conns++
		rec.got.WriteString(r.Method + " " + r.URL.String() + "\n" + string(body) + "\n")
		rec.mu.Unlock()
		if r.Method == http.MethodGet {
			if page, err := pc.Get(r.Context(), r.URL.RequestURI()); err == nil {
				_, _ = w.Write(page)
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"user":"x","site":"tinh","code":"HS00000001","id":1}`)
	}), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = hs.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = hs.Close()
		<-done
		pc.Close()
	})
	return rec
}

// leaked reports whether s holds the master password of any officer of
// the replica, under any replica name a game could give.
func leaked(t *testing.T, e *env, s string, replicas ...string) bool {
	t.Helper()
	users, err := e.adm.Table(context.Background(), "users", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range users.Rows {
		for _, cell := range row {
			for _, r := range replicas {
				if m := contract.MasterPassword(secret, r, cell); m != "" && strings.Contains(s, m) {
					return true
				}
			}
		}
	}
	return false
}

// TestCheckerTalksOnlyToItsReplicas points tasks at an attacker's
// listener on another loopback address: the checker refuses them without
// connecting, so no credential reaches it.
func TestCheckerTalksOnlyToItsReplicas(t *testing.T) {
	e := start(t)
	rec := fakeReplica(t, "127.0.0.66", e.srv)
	flag := targettest.NewFlag()
	for _, tk := range []checks.Task{
		task(checks.PutFlag, 0, flag), task(checks.GetFlag, 0, flag), task(checks.PutFlag, 1, flag),
		task(checks.GetFlag, 1, flag), task(checks.GetFlag, 2, flag), task(checks.PutNoise, 0, ""),
		task(checks.GetNoise, 1, ""), task(checks.Havoc, 2, ""), task(checks.Exploit, 1, flag),
	} {
		tk.Address = "127.0.0.66"
		res := targettest.Run(t, e.c, tk)
		if res.Result == checks.OK || res.Message == nil || !strings.Contains(*res.Message, "not a replica") {
			t.Errorf("%s to an unknown address: %s %v", tk.Method, res.Result, res.Message)
		}
	}
	conns, got := rec.seen()
	if conns > 0 || leaked(t, e, got, "", replicaName) {
		t.Errorf("the attacker's listener got %d connections; a master password leaked: %v", conns, leaked(t, e, got, "", replicaName))
	}
	// The real replica is still served.
	put := task(checks.PutFlag, 1, flag)
	targettest.Expect(t, e.c, put, checks.OK)
	targettest.Expect(t, e.c, again(put, checks.GetFlag), checks.OK)
}

// TestCheckerAuthenticatesItsCaller serves the checker as its role does
// and calls it without its token, with a wrong one and with the right one.
func TestCheckerAuthenticatesItsCaller(t *testing.T) {
	e := start(t)
	rec := fakeReplica(t, "127.0.0.67", e.srv)
	base := targettest.ServeChecker(t, checker.RunChecker, "--listen", "127.0.0.1:0", "--checker-secret", secret,
		"--http-port", strconv.Itoa(targettest.Port(t, e.srv.AddrHTTP())), "--admin-port", strconv.Itoa(targettest.Port(t, e.srv.AddrAdmin())),
		"--targets", "127.0.0.1="+replicaName)
	hc := &http.Client{Timeout: 30 * time.Second}
	t.Cleanup(hc.CloseIdleConnections)

	stolen := task(checks.GetFlag, 1, targettest.NewFlag())
	stolen.Address = "127.0.0.67"
	targettest.RequiresToken(t, hc, base, secret, stolen)
	if conns, _ := rec.seen(); conns > 0 {
		t.Errorf("an unauthenticated task made the checker connect %d times", conns)
	}

	// The game, with the token derived from the secret, is served.
	cl := checks.NewClient(base, hc, checks.WithToken(checks.CallerToken(secret)))
	if info, err := cl.Info(context.Background()); err != nil || info.ServiceName != "portal" {
		t.Fatalf("info with the token: %+v %v", info, err)
	}
	put := task(checks.PutFlag, 1, targettest.NewFlag())
	targettest.Expect(t, cl, put, checks.OK)
	targettest.Expect(t, cl, again(put, checks.GetFlag), checks.OK)
	res := targettest.Run(t, cl, stolen)
	if res.Result == checks.OK || res.Message == nil || !strings.Contains(*res.Message, "not a replica") {
		t.Errorf("an authenticated task to an unknown address: %s %v", res.Result, res.Message)
	}
}

// TestMasterPasswordsDifferPerReplica: two replicas share the checker
// secret; a checker told the wrong replica's name for an address cannot
// log its officers in.
func TestMasterPasswordsDifferPerReplica(t *testing.T) {
	a := start(t) // replicaName
	ctx := context.Background()
	pc := portalclient.New("http://"+a.srv.AddrHTTP(), nil)
	defer pc.Close()
	if err := pc.MasterLogin(ctx, secret, replicaName, "vanthu.tinh"); err != nil {
		t.Fatalf("replica A's master password on replica A: %v", err)
	}
	if err := pc.MasterLogin(ctx, secret, "portal.d02", "vanthu.tinh"); err == nil {
		t.Error("replica B's master password opened replica A")
	}
	wrong := checker.New(checker.Config{Secret: secret, Think: -1, Replicas: map[string]string{"127.0.0.1": "portal.d02"},
		HTTPPort: targettest.Port(t, a.srv.AddrHTTP())})
	targettest.Expect(t, wrong, task(checks.PutFlag, 1, targettest.NewFlag()), checks.Mumble)
}
