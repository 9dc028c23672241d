package checker_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"go.uber.org/goleak"

	"github.com/cyrange/cyrange/images/mailserver"
	"github.com/cyrange/cyrange/images/mailserver/checker"
	"github.com/cyrange/cyrange/images/mailserver/contract"
	"github.com/cyrange/cyrange/images/mailserver/webclient"
	"github.com/cyrange/cyrange/scoreboard/checks"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const secret = "checker-test-secret"

// newFlag makes a random string in the game's flag format.
func newFlag(t *testing.T) string {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, 31)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b) + "="
}

type env struct {
	srv *mailserver.Server
	c   *checker.Checker
	adm *webclient.Admin
}

func port(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return n
}

// replicaName is the test replica's name in the game.
const replicaName = "mail.d01"

func start(t *testing.T, weaknesses map[string]bool) *env {
	t.Helper()
	return startReplica(t, weaknesses, replicaName)
}

// startReplica starts a replica of the given name on 127.0.0.1 and a
// checker that knows it by that name.
func startReplica(t *testing.T, weaknesses map[string]bool, name string) *env {
	t.Helper()
	srv, err := mailserver.New(mailserver.Config{
		Listen: "127.0.0.1", Accounts: 400, Seed: 11, Weaknesses: weaknesses,
		CheckerSecret: secret, Replica: name, OperatorPassword: "operator-secret-1",
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := srv.Start(ctx); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = srv.Close()
	})
	c := checker.New(checker.Config{
		Secret: secret, Think: -1, Replicas: map[string]string{"127.0.0.1": name},
		SMTPPort: port(t, srv.AddrSMTP()), IMAPPort: port(t, srv.AddrIMAP()), HTTPPort: port(t, srv.AddrHTTP()),
	})
	adm := webclient.NewAdmin("http://"+srv.AddrAdmin(), nil, mailserver.OperatorUser, "operator-secret-1")
	t.Cleanup(adm.Close)
	return &env{srv: srv, c: c, adm: adm}
}

var round int64

// task builds a protocol task for store variant v.
func task(method checks.Method, v int, flag string) checks.Task {
	round++
	kind := "flag"
	switch method {
	case checks.PutNoise, checks.GetNoise:
		kind = "noise"
	case checks.Havoc:
		kind = "havoc"
	}
	t := checks.Task{
		TaskID: round, Method: method, Address: "127.0.0.1", TeamID: 1, TeamName: "doi-phong-thu",
		CurrentRoundID: 3, RelatedRoundID: 3, VariantID: v, Timeout: 20000, RoundLength: 60000,
		TaskChainID: checks.ChainID(kind, 1, 3, 1, v),
	}
	if flag != "" {
		t.Flag = checks.Str(flag)
		sum := sha256.Sum256([]byte(flag))
		t.FlagHash = checks.Str(hex.EncodeToString(sum[:]))
	}
	return t
}

func run(t *testing.T, c checks.Checker, tk checks.Task) checks.TaskResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(tk.Timeout)*time.Millisecond)
	defer cancel()
	res, err := c.Run(ctx, tk)
	if err != nil {
		t.Fatalf("%s v%d: %v", tk.Method, tk.VariantID, err)
	}
	if res.Message != nil && tk.Flag != nil && strings.Contains(*res.Message, *tk.Flag) {
		t.Fatalf("message contains the flag")
	}
	return res
}

func want(t *testing.T, res checks.TaskResult, r checks.Result) {
	t.Helper()
	if res.Result != r {
		msg := ""
		if res.Message != nil {
			msg = *res.Message
		}
		t.Fatalf("got %s (%s), want %s", res.Result, msg, r)
	}
}

func TestInfo(t *testing.T) {
	info, err := checker.New(checker.Config{Secret: "x"}).Info(context.Background())
	if err != nil || info.ServiceName != "mailserver" || info.FlagVariants != 3 || info.ExploitVariants != 3 || info.NoiseVariants != 2 || info.HavocVariants != 3 {
		t.Fatalf("%+v %v", info, err)
	}
}

func TestEveryMethod(t *testing.T) {
	e := start(t, map[string]bool{contract.WebmailIDOR: true})
	for v, store := range contract.Stores() {
		t.Run(store, func(t *testing.T) {
			flag := newFlag(t)
			res := run(t, e.c, task(checks.PutFlag, v, flag))
			want(t, res, checks.OK)
			if res.AttackInfo == nil || !strings.Contains(*res.AttackInfo, "@") || strings.Contains(*res.AttackInfo, flag) {
				t.Fatalf("attackInfo %v", res.AttackInfo)
			}
			want(t, run(t, e.c, task(checks.GetFlag, v, flag)), checks.OK)
			// A getflag for a flag that was never planted there fails.
			want(t, run(t, e.c, task(checks.GetFlag, v, newFlag(t))), checks.Mumble)
			// The IDOR exploit reaches every store.
			ex := task(checks.Exploit, v, flag)
			ex.AttackInfo = res.AttackInfo
			res = run(t, e.c, ex)
			want(t, res, checks.OK)
			if res.Flag == nil || *res.Flag != flag {
				t.Fatalf("exploit returned %v", res.Flag)
			}
		})
	}
	for v := range 2 {
		t.Run(fmt.Sprintf("noise%d", v), func(t *testing.T) {
			want(t, run(t, e.c, task(checks.PutNoise, v, "")), checks.OK)
			want(t, run(t, e.c, task(checks.GetNoise, v, "")), checks.OK)
		})
	}
	for v := range 3 {
		t.Run(fmt.Sprintf("havoc%d", v), func(t *testing.T) {
			want(t, run(t, e.c, task(checks.Havoc, v, "")), checks.OK)
		})
	}
}

func TestExploitFailsWithoutWeakness(t *testing.T) {
	e := start(t, nil)
	flag := newFlag(t)
	res := run(t, e.c, task(checks.PutFlag, 0, flag))
	want(t, res, checks.OK)
	ex := task(checks.Exploit, 0, flag)
	ex.AttackInfo = res.AttackInfo
	want(t, run(t, e.c, ex), checks.Mumble)
}

// deleteTagged removes from folder of user every message the filter picks,
// as an intruder (or a careless user) would.
func deleteAll(t *testing.T, e *env, user, folder string) {
	t.Helper()
	c, err := imapclient.DialInsecure(e.srv.AddrIMAP(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(user, contract.MasterPassword(secret, replicaName, user)).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select(folder, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	var all imap.SeqSet
	all.AddRange(1, 0)
	if err := c.Store(all, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}, Silent: true}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Expunge().Close(); err != nil {
		t.Fatal(err)
	}
	_ = c.Logout().Wait()
}

func TestMumbleWhenFlagRemoved(t *testing.T) {
	e := start(t, nil)
	folders := []string{"INBOX", "Drafts", "INBOX"}
	for v, store := range contract.Stores() {
		t.Run(store, func(t *testing.T) {
			flag := newFlag(t)
			res := run(t, e.c, task(checks.PutFlag, v, flag))
			want(t, res, checks.OK)
			deleteAll(t, e, *res.AttackInfo, folders[v])
			want(t, run(t, e.c, task(checks.GetFlag, v, flag)), checks.Mumble)
		})
	}
}

func TestOfflineWhenTargetDown(t *testing.T) {
	e := start(t, nil)
	flag := newFlag(t)
	want(t, run(t, e.c, task(checks.PutFlag, 0, flag)), checks.OK)
	if err := e.srv.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tk := range []checks.Task{
		task(checks.GetFlag, 0, flag), task(checks.PutFlag, 1, newFlag(t)),
		task(checks.PutNoise, 0, ""), task(checks.Havoc, 1, ""), task(checks.Havoc, 2, ""),
	} {
		want(t, run(t, e.c, tk), checks.Offline)
	}
	// A fresh checker, whose directory cache is empty, too.
	c := checker.New(checker.Config{Secret: secret, Think: -1, Replicas: map[string]string{"127.0.0.1": replicaName}, SMTPPort: port(t, e.srv.AddrSMTP()), IMAPPort: port(t, e.srv.AddrIMAP()), HTTPPort: port(t, e.srv.AddrHTTP())})
	want(t, run(t, c, task(checks.Havoc, 0, "")), checks.Offline)
}

func TestCheckerSurvivesPasswordReset(t *testing.T) {
	e := start(t, map[string]bool{contract.WeakPassword: true})
	ctx := context.Background()
	flag := newFlag(t)
	res := run(t, e.c, task(checks.PutFlag, 2, flag))
	want(t, res, checks.OK)
	leaders, err := e.adm.Users(ctx, "", "leader")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range leaders {
		if _, err := e.adm.ResetPassword(ctx, l.Addr, ""); err != nil {
			t.Fatal(err)
		}
	}
	want(t, run(t, e.c, task(checks.GetFlag, 2, flag)), checks.OK)
	want(t, run(t, e.c, task(checks.PutFlag, 0, newFlag(t))), checks.OK)
}

func TestNoSecretIsInternalError(t *testing.T) {
	_, err := checker.New(checker.Config{}).Run(context.Background(), task(checks.Havoc, 0, ""))
	if err == nil {
		t.Fatal("no error without a secret")
	}
}

func TestOverTheProtocol(t *testing.T) {
	e := start(t, nil)
	hs := httptest.NewServer(checks.NewHandler(e.c, nil))
	defer hs.Close()
	cl := checks.NewClient(hs.URL, hs.Client())
	info, err := cl.Info(context.Background())
	if err != nil || info.FlagVariants != 3 {
		t.Fatalf("info: %+v %v", info, err)
	}
	flag := newFlag(t)
	want(t, run(t, cl, task(checks.PutFlag, 1, flag)), checks.OK)
	want(t, run(t, cl, task(checks.GetFlag, 1, flag)), checks.OK)
}
