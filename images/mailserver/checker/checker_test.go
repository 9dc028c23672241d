package checker_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"go.uber.org/goleak"

	"github.com/cyrange/cyrange/images/mailserver"
	"github.com/cyrange/cyrange/images/mailserver/checker"
	"github.com/cyrange/cyrange/images/mailserver/contract"
	"github.com/cyrange/cyrange/images/mailserver/webclient"
	"github.com/cyrange/cyrange/images/target/targettest"
	"github.com/cyrange/cyrange/scoreboard/checks"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const secret = "checker-test-secret"

type env struct {
	srv *mailserver.Server
	c   *checker.Checker
	adm *webclient.Admin
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
		SMTPPort: targettest.Port(t, srv.AddrSMTP()), IMAPPort: targettest.Port(t, srv.AddrIMAP()), HTTPPort: targettest.Port(t, srv.AddrHTTP()),
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
			flag := targettest.NewFlag()
			res := targettest.Expect(t, e.c, task(checks.PutFlag, v, flag), checks.OK)
			if res.AttackInfo == nil || !strings.Contains(*res.AttackInfo, "@") || strings.Contains(*res.AttackInfo, flag) {
				t.Fatalf("attackInfo %v", res.AttackInfo)
			}
			targettest.Expect(t, e.c, task(checks.GetFlag, v, flag), checks.OK)
			// A getflag for a flag that was never planted there fails.
			targettest.Expect(t, e.c, task(checks.GetFlag, v, targettest.NewFlag()), checks.Mumble)
			// The IDOR exploit reaches every store.
			ex := task(checks.Exploit, v, flag)
			ex.AttackInfo = res.AttackInfo
			res = targettest.Expect(t, e.c, ex, checks.OK)
			if res.Flag == nil || *res.Flag != flag {
				t.Fatalf("exploit returned %v", res.Flag)
			}
		})
	}
	for v := range 2 {
		t.Run(fmt.Sprintf("noise%d", v), func(t *testing.T) {
			targettest.Expect(t, e.c, task(checks.PutNoise, v, ""), checks.OK)
			targettest.Expect(t, e.c, task(checks.GetNoise, v, ""), checks.OK)
		})
	}
	for v := range 3 {
		t.Run(fmt.Sprintf("havoc%d", v), func(t *testing.T) {
			targettest.Expect(t, e.c, task(checks.Havoc, v, ""), checks.OK)
		})
	}
}

func TestExploitFailsWithoutWeakness(t *testing.T) {
	e := start(t, nil)
	flag := targettest.NewFlag()
	res := targettest.Expect(t, e.c, task(checks.PutFlag, 0, flag), checks.OK)
	ex := task(checks.Exploit, 0, flag)
	ex.AttackInfo = res.AttackInfo
	targettest.Expect(t, e.c, ex, checks.Mumble)
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
			flag := targettest.NewFlag()
			res := targettest.Expect(t, e.c, task(checks.PutFlag, v, flag), checks.OK)
			deleteAll(t, e, *res.AttackInfo, folders[v])
			targettest.Expect(t, e.c, task(checks.GetFlag, v, flag), checks.Mumble)
		})
	}
}

func TestOfflineWhenTargetDown(t *testing.T) {
	e := start(t, nil)
	flag := targettest.NewFlag()
	targettest.Expect(t, e.c, task(checks.PutFlag, 0, flag), checks.OK)
	if err := e.srv.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tk := range []checks.Task{
		task(checks.GetFlag, 0, flag), task(checks.PutFlag, 1, targettest.NewFlag()),
		task(checks.PutNoise, 0, ""), task(checks.Havoc, 1, ""), task(checks.Havoc, 2, ""),
	} {
		targettest.Expect(t, e.c, tk, checks.Offline)
	}
	// A fresh checker, whose directory cache is empty, too.
	c := checker.New(checker.Config{Secret: secret, Think: -1, Replicas: map[string]string{"127.0.0.1": replicaName}, SMTPPort: targettest.Port(t, e.srv.AddrSMTP()), IMAPPort: targettest.Port(t, e.srv.AddrIMAP()), HTTPPort: targettest.Port(t, e.srv.AddrHTTP())})
	targettest.Expect(t, c, task(checks.Havoc, 0, ""), checks.Offline)
}

func TestCheckerSurvivesPasswordReset(t *testing.T) {
	e := start(t, map[string]bool{contract.WeakPassword: true})
	ctx := context.Background()
	flag := targettest.NewFlag()
	targettest.Expect(t, e.c, task(checks.PutFlag, 2, flag), checks.OK)
	leaders, err := e.adm.Users(ctx, "", "leader")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range leaders {
		if _, err := e.adm.ResetPassword(ctx, l.Addr, ""); err != nil {
			t.Fatal(err)
		}
	}
	targettest.Expect(t, e.c, task(checks.GetFlag, 2, flag), checks.OK)
	targettest.Expect(t, e.c, task(checks.PutFlag, 0, targettest.NewFlag()), checks.OK)
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
	flag := targettest.NewFlag()
	targettest.Expect(t, cl, task(checks.PutFlag, 1, flag), checks.OK)
	targettest.Expect(t, cl, task(checks.GetFlag, 1, flag), checks.OK)
}
