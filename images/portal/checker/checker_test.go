package checker_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/cyrange/cyrange/images/portal"
	"github.com/cyrange/cyrange/images/portal/checker"
	"github.com/cyrange/cyrange/images/portal/contract"
	"github.com/cyrange/cyrange/images/portal/portalclient"
	"github.com/cyrange/cyrange/images/target/targettest"
	"github.com/cyrange/cyrange/scoreboard/checks"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	secret = "checker-test-secret"
	// replicaName is the test replica's name in the game.
	replicaName = "portal.d01"
	operatorPW  = "operator-secret-1"
)

type env struct {
	srv *portal.Server
	c   *checker.Checker
	adm *portalclient.Admin
}

func start(t *testing.T, weaknesses ...string) *env {
	t.Helper()
	return startWith(t, replicaName, portal.Limits{}, weaknesses...)
}

// startWith starts a replica of the given name and limits on 127.0.0.1,
// and a checker that knows it by that name.
func startWith(t *testing.T, name string, lim portal.Limits, weaknesses ...string) *env {
	t.Helper()
	set := map[string]bool{}
	for _, w := range weaknesses {
		set[w] = true
	}
	srv, err := portal.New(context.Background(), portal.Config{
		Listen: "127.0.0.1", Sites: 40, Dossiers: 2000, Seed: 7, Weaknesses: set, Limits: lim,
		CheckerSecret: secret, Replica: name, OperatorPassword: operatorPW,
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
	c := checker.New(checker.Config{Secret: secret, Think: -1, Replicas: map[string]string{"127.0.0.1": name},
		HTTPPort: targettest.Port(t, srv.AddrHTTP()), AdminPort: targettest.Port(t, srv.AddrAdmin())})
	adm := portalclient.NewAdmin("http://"+srv.AddrAdmin(), nil, portal.OperatorUser, operatorPW)
	t.Cleanup(adm.Close)
	return &env{srv: srv, c: c, adm: adm}
}

var round int64

// task builds a protocol task for variant v.
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
		CurrentRoundID: round, RelatedRoundID: round, VariantID: v, Timeout: 30000, RoundLength: 60000,
		TaskChainID: checks.ChainID(kind, 2, round, 1, v),
	}
	if flag != "" {
		t.Flag = checks.Str(flag)
		sum := sha256.Sum256([]byte(flag))
		t.FlagHash = checks.Str(hex.EncodeToString(sum[:]))
	}
	return t
}

// again is the task of the same chain with another method, as the game
// sends a getflag after its putflag.
func again(tk checks.Task, method checks.Method) checks.Task {
	tk.Method = method
	round++
	tk.TaskID = round
	return tk
}

func TestInfo(t *testing.T) {
	info, err := checker.New(checker.Config{Secret: "x"}).Info(context.Background())
	if err != nil || info.ServiceName != "portal" || info.FlagVariants != 3 || info.ExploitVariants != 3 || info.NoiseVariants != 2 || info.HavocVariants != 3 {
		t.Fatalf("%+v %v", info, err)
	}
}

func TestEveryMethod(t *testing.T) {
	e := start(t, contract.NewsSQLi)
	for v, store := range contract.Stores() {
		t.Run(store, func(t *testing.T) {
			flag := targettest.NewFlag()
			put := task(checks.PutFlag, v, flag)
			res := targettest.Expect(t, e.c, put, checks.OK)
			if res.AttackInfo == nil || *res.AttackInfo == "" || strings.Contains(*res.AttackInfo, flag) {
				t.Fatalf("attackInfo %v", res.AttackInfo)
			}
			targettest.Expect(t, e.c, again(put, checks.GetFlag), checks.OK)
			// A getflag for a flag that was never planted there fails.
			other := again(put, checks.GetFlag)
			other.Flag = checks.Str(targettest.NewFlag())
			targettest.Expect(t, e.c, other, checks.Mumble)
			// The search's SQL injection reaches every store.
			res = targettest.Expect(t, e.c, again(put, checks.Exploit), checks.OK)
			if res.Flag == nil || *res.Flag != flag {
				t.Fatalf("exploit returned %v", res.Flag)
			}
		})
	}
	for v := range 2 {
		t.Run(fmt.Sprintf("noise%d", v), func(t *testing.T) {
			put := task(checks.PutNoise, v, "")
			targettest.Expect(t, e.c, put, checks.OK)
			targettest.Expect(t, e.c, again(put, checks.GetNoise), checks.OK)
		})
	}
	for v := range 3 {
		t.Run(fmt.Sprintf("havoc%d", v), func(t *testing.T) {
			for range 3 {
				targettest.Expect(t, e.c, task(checks.Havoc, v, ""), checks.OK)
			}
		})
	}
}

func TestExploitFailsWithoutWeakness(t *testing.T) {
	e := start(t)
	flag := targettest.NewFlag()
	put := task(checks.PutFlag, 1, flag)
	targettest.Expect(t, e.c, put, checks.OK)
	targettest.Expect(t, e.c, again(put, checks.Exploit), checks.Mumble)
}

// TestMumbleWhenFlagRemoved pushes each planted flag out as the portal
// itself does: a source's oldest public writes go past its share, an
// agency's oldest drafts past 500.
func TestMumbleWhenFlagRemoved(t *testing.T) {
	const share = 6
	e := startWith(t, replicaName, portal.Limits{StoredPerSource: share})
	ctx := context.Background()
	pc := portalclient.New("http://"+e.srv.AddrHTTP(), nil)
	defer pc.Close()
	for v, store := range contract.Stores() {
		t.Run(store, func(t *testing.T) {
			flag := targettest.NewFlag()
			put := task(checks.PutFlag, v, flag)
			targettest.Expect(t, e.c, put, checks.OK)
			targettest.Expect(t, e.c, again(put, checks.GetFlag), checks.OK)
			if store == contract.StoreDraft {
				if err := pc.MasterLogin(ctx, secret, replicaName, "vanthu.tinh"); err != nil {
					t.Fatal(err)
				}
				for i := range 501 {
					if _, err := pc.SaveDraft(ctx, fmt.Sprintf("Nháp %d", i), "x"); err != nil {
						t.Fatal(err)
					}
				}
			} else {
				// The test shares the checker's source address.
				for i := range share {
					if _, err := pc.Contact(ctx, "tinh", "Khách", "", fmt.Sprintf("Thư %d", i), "x"); err != nil {
						t.Fatal(err)
					}
				}
			}
			res := targettest.Expect(t, e.c, again(put, checks.GetFlag), checks.Mumble)
			if !strings.Contains(*res.Message, "not found") {
				t.Errorf("message %q", *res.Message)
			}
		})
	}
}

func TestOfflineWhenTargetDown(t *testing.T) {
	e := start(t)
	flag := targettest.NewFlag()
	put := task(checks.PutFlag, 0, flag)
	targettest.Expect(t, e.c, put, checks.OK)
	if err := e.srv.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tk := range []checks.Task{
		again(put, checks.GetFlag), task(checks.PutFlag, 1, targettest.NewFlag()), task(checks.PutFlag, 2, targettest.NewFlag()),
		task(checks.PutNoise, 0, ""), task(checks.GetNoise, 1, ""), task(checks.Havoc, 0, ""), task(checks.Havoc, 1, ""), task(checks.Havoc, 2, ""),
	} {
		targettest.Expect(t, e.c, tk, checks.Offline)
	}
}

// TestCheckerSurvivesPasswordReset: the defence resets every officer's
// password of the main portal; the master passwords still open them.
func TestCheckerSurvivesPasswordReset(t *testing.T) {
	e := start(t, contract.NoLockout)
	ctx := context.Background()
	flag := targettest.NewFlag()
	put := task(checks.PutFlag, 1, flag)
	targettest.Expect(t, e.c, put, checks.OK)
	users, err := e.adm.Table(ctx, "users", ".tinh")
	if err != nil {
		t.Fatal(err)
	}
	reset := 0
	for _, row := range users.Rows {
		for _, cell := range row {
			if strings.HasSuffix(cell, ".tinh") {
				if _, err := e.adm.ResetOfficer(ctx, cell, ""); err != nil {
					t.Fatal(err)
				}
				reset++
				break
			}
		}
	}
	if reset == 0 {
		t.Fatalf("no officer of the main portal in %v", users.Rows)
	}
	targettest.Expect(t, e.c, again(put, checks.GetFlag), checks.OK)
	targettest.Expect(t, e.c, task(checks.PutFlag, 2, targettest.NewFlag()), checks.OK)
}

func TestNoSecretIsInternalError(t *testing.T) {
	_, err := checker.New(checker.Config{}).Run(context.Background(), task(checks.Havoc, 0, ""))
	if err == nil {
		t.Fatal("no error without a secret")
	}
}

func TestOverTheProtocol(t *testing.T) {
	e := start(t)
	hs := httptest.NewServer(checks.NewHandler(e.c, nil))
	defer hs.Close()
	cl := checks.NewClient(hs.URL, hs.Client())
	info, err := cl.Info(context.Background())
	if err != nil || info.FlagVariants != 3 {
		t.Fatalf("info: %+v %v", info, err)
	}
	put := task(checks.PutFlag, 2, targettest.NewFlag())
	targettest.Expect(t, cl, put, checks.OK)
	targettest.Expect(t, cl, again(put, checks.GetFlag), checks.OK)
}
