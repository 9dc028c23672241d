package portaltarget

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cyrange/cyrange/images/portal"
	"github.com/cyrange/cyrange/images/portal/contract"
	"github.com/cyrange/cyrange/images/target"
	"github.com/cyrange/cyrange/images/target/targettest"
	"github.com/cyrange/cyrange/scenarios"
	"github.com/cyrange/cyrange/scoreboard/checks"
)

const (
	secret   = "portaltarget-test-secret"
	replica  = "portal.d01"
	operator = "operator-secret-2"
)

// newFlag and portOf are targettest's, under the names the chain tests
// (chains_test.go) call them by.
func newFlag() string { return targettest.NewFlag() }

func portOf(t *testing.T, addr string) int { return targettest.Port(t, addr) }

// plantAll puts a fresh flag in every store through the checker, checks
// it can be got back, and returns the flags by store.
func plantAll(t *testing.T, ctx context.Context, c checks.Checker, tick int64) map[string]string {
	t.Helper()
	out := map[string]string{}
	for v, store := range contract.Stores() {
		flag := newFlag()
		tk := checks.Task{TaskID: tick*10 + int64(v), Method: checks.PutFlag, Address: "127.0.0.1", TeamID: 1, TeamName: "d01",
			CurrentRoundID: tick, RelatedRoundID: tick, VariantID: v, Timeout: 30000, RoundLength: 60000,
			TaskChainID: checks.ChainID("flag", 1, tick, 1, v), Flag: checks.Str(flag)}
		for _, m := range []checks.Method{checks.PutFlag, checks.GetFlag} {
			tk.Method = m
			res, err := c.Run(ctx, tk)
			if err != nil || res.Result != checks.OK {
				msg := ""
				if res.Message != nil {
					msg = *res.Message
				}
				t.Fatalf("%s %s: %s %s %v", m, store, res.Result, msg, err)
			}
		}
		out[store] = flag
	}
	return out
}

// TestEveryWeaknessAndItsRemedy: each weakness's exploit, as the bots run
// it through the target interface, finds the checker's flags of its
// stores with the weakness on; the remedy applied through the interface
// stops it, shows in the log as a remedy, and leaves the checker's
// putflag and getflag OK.
func TestEveryWeaknessAndItsRemedy(t *testing.T) {
	tg := New()
	for _, w := range tg.Weaknesses() {
		t.Run(w.Name, func(t *testing.T) {
			// Parallel: the checker pauses between steps as a person does.
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			var log targettest.Output
			srv, err := portal.New(ctx, portal.Config{Listen: "127.0.0.1", Sites: 40, Dossiers: 2000, Seed: 5,
				Weaknesses: map[string]bool{w.Name: true}, CheckerSecret: secret, Replica: replica, OperatorPassword: operator,
				Logger: slog.New(slog.NewJSONHandler(&log, nil))})
			if err != nil {
				t.Fatal(err)
			}
			if err := srv.Start(ctx); err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			ports := map[string]int{"http": portOf(t, srv.AddrHTTP()), "admin": portOf(t, srv.AddrAdmin())}
			c, err := tg.NewChecker(target.CheckerConfig{Ports: ports, Secret: secret, Replicas: map[string]string{"127.0.0.1": replica}})
			if err != nil {
				t.Fatal(err)
			}
			rp := target.Replica{Host: "127.0.0.1", Ports: ports}
			planted := plantAll(t, ctx, c, 1)
			got, err := w.Exploit(ctx, nil, rp)
			if err != nil {
				t.Fatalf("exploit %s with the weakness on: %v", w.ExploitName, err)
			}
			for _, store := range w.Stores {
				if !slices.Contains(got, planted[store]) {
					t.Errorf("store %s: the checker's flag not found in %v", store, got)
				}
			}
			if err := tg.Remedy(ctx, target.Console{URL: "http://" + srv.AddrAdmin(), Password: operator}, w.Name); err != nil {
				t.Fatalf("remedy: %v", err)
			}
			remedied := false
			for line := range strings.Lines(log.String()) {
				if l, ok := tg.ReadLine([]byte(line)); ok && l.Remedy != "" {
					remedied = true
				}
			}
			if !remedied {
				t.Error("no line of the log reads as a remedy")
			}
			after := plantAll(t, ctx, c, 2)
			got, err = w.Exploit(ctx, nil, rp)
			for _, f := range []map[string]string{planted, after} {
				for store, flag := range f {
					if slices.Contains(got, flag) {
						t.Errorf("after the remedy the exploit still found the %s flag (err %v)", store, err)
					}
				}
			}
			if err == nil {
				t.Errorf("after the remedy the exploit succeeded with %v", got)
			}
		})
	}
}

func TestRemedyUnknownWeakness(t *testing.T) {
	if err := New().Remedy(context.Background(), target.Console{URL: "http://127.0.0.1:1"}, "no_such"); err == nil {
		t.Fatal("a remedy for an unknown weakness")
	}
}

// TestReadLineTechnique: what a watching defender makes of the server's
// actions.
func TestReadLineTechnique(t *testing.T) {
	targettest.Techniques(t, New(), map[string]string{
		`{"level":"WARN","msg":"officer login failed","proto":"http","src":"127.60.1.2:4000","action":"login"}`:                                                     "T1110",
		`{"level":"INFO","msg":"officer logged in","proto":"http","src":"127.60.1.2:4000","action":"login"}`:                                                        "",
		`{"level":"INFO","msg":"admin console login","proto":"http","src":"127.60.1.2:4000","action":"admin_login"}`:                                                "T1078.001",
		`{"level":"INFO","msg":"admin console login","proto":"admin","src":"127.61.1.2:4000","action":"admin_login"}`:                                               "",
		`{"level":"WARN","msg":"search failed","proto":"http","src":"127.60.1.2:4000","action":"sql_error"}`:                                                        "T1190",
		`{"level":"INFO","msg":"news searched","proto":"http","src":"127.60.1.2:4000","action":"search","q":"x' union all select 1,2,3,4-- "}`:                      "T1190",
		`{"level":"INFO","msg":"news searched","proto":"http","src":"127.60.1.2:4000","action":"search","q":"chuyển đổi số"}`:                                       "",
		`{"level":"WARN","msg":"configuration backup downloaded","proto":"http","src":"127.60.1.2:4000","action":"backup_download"}`:                                "T1552.001",
		`{"level":"INFO","msg":"link previewed","proto":"http","src":"127.60.1.2:4000","action":"fetch","url":"http://127.0.0.1:8025/quantri/api/export"}`:          "T1090",
		`{"level":"INFO","msg":"link previewed","proto":"http","src":"127.60.1.2:4000","action":"fetch","url":"http://admin:xxxxx@10.61.1.4:8025/admin/api/users"}`: "T1090",
		`{"level":"INFO","msg":"link previewed","proto":"http","src":"127.60.1.2:4000","action":"fetch","url":"http://mail:8025/admin/"}`:                           "T1090",
		`{"level":"INFO","msg":"link previewed","proto":"http","src":"127.60.1.2:4000","action":"fetch","url":"https://baochinhphu.vn/tin-tuc"}`:                    "",
		`{"level":"WARN","msg":"dossier lookup failed","proto":"http","src":"127.60.1.2:4000","action":"lookup"}`:                                                   "T1087",
	})
}

// TestReadLineRemedy: only the admin port's changes are remedies.
func TestReadLineRemedy(t *testing.T) {
	targettest.Remedies(t, New(), map[string]string{
		`{"msg":"settings changed","proto":"admin","action":"settings","changes":"lockout: false -> true"}`:      "settings: lockout: false -> true",
		`{"msg":"settings changed","proto":"admin","action":"settings","changes":" "}`:                           "",
		`{"msg":"settings changed","proto":"http","action":"settings","changes":"searchPatched: true -> false"}`: "",
		`{"msg":"officer password reset","proto":"admin","action":"reset_password","target":"vanthu.tinh"}`:      "reset_password: vanthu.tinh",
		`{"msg":"console password changed","proto":"admin","action":"admin_password","target":"admin"}`:          "admin_password: admin",
		`{"msg":"admin console login","proto":"admin","action":"admin_login"}`:                                   "",
	})
	if _, ok := New().ReadLine([]byte(contract.OperatorLine + "s3cret")); ok {
		t.Error("the operator's password line read as an action")
	}
}

func TestWeaknessOn(t *testing.T) {
	targettest.WeaknessOn(t, New(), []targettest.Switch{
		{Desc: "no weaknesses key: the target takes them all", Options: scenarios.Options{"domain": "x.gov.vn"},
			On: map[string]bool{contract.NewsSQLi: true, contract.NoLockout: true}},
		{Desc: "those set true", Options: scenarios.Options{"weaknesses": scenarios.Options{contract.NewsSQLi: true, contract.NoLockout: false}},
			On: map[string]bool{contract.NewsSQLi: true, contract.NoLockout: false, contract.SSRFImport: false}},
		{Desc: "a list", Options: scenarios.Options{"weaknesses": []any{contract.DossierIDOR}},
			On: map[string]bool{contract.DossierIDOR: true, contract.NewsSQLi: false}},
		{Desc: "none", Options: scenarios.Options{"weaknesses": "none"}, On: map[string]bool{contract.NewsSQLi: false}},
		{Desc: "all", Options: scenarios.Options{"weaknesses": "all"}, On: map[string]bool{contract.BackupExposed: true}},
	})
}

// TestWeaknesses: every weakness of the contract, each with its exploit,
// techniques, stores and remedy, and nothing else; the ports, the
// options and the operator's password line as the server has them.
func TestWeaknesses(t *testing.T) {
	tg := New()
	targettest.Weaknesses(t, tg, contract.Weaknesses())
	if tg.Name() != "portal" || tg.OperatorUser() != portal.OperatorUser {
		t.Errorf("name %q operator %q", tg.Name(), tg.OperatorUser())
	}
	if p, ok := tg.OperatorPassword("portal: admin console operator password: s3cret"); !ok || p != "s3cret" {
		t.Errorf("operator password %q %v", p, ok)
	}
	if _, ok := tg.OperatorPassword("portal: started"); ok {
		t.Error("an operator password in another line")
	}
	if probs := tg.CheckOptions(scenarios.Options{"sites": 0, "colour": "red"}); len(probs) != 2 {
		t.Errorf("option problems %v", probs)
	}
}

// FuzzReadLine feeds the server's log lines, which an attacker shapes, to
// what the defence reads of them: an action has a message and an action,
// a remedy comes only from the admin port, a technique is an ATT&CK id.
func FuzzReadLine(f *testing.F) {
	f.Add([]byte(`{"level":"INFO","msg":"news searched","proto":"http","src":"127.60.1.2:4000","action":"search","q":"' UNION SELECT"}`))
	f.Add([]byte(`{"msg":"settings changed","proto":"admin","action":"settings","changes":"lockout: false -> true"}`))
	f.Add([]byte("portal: admin console operator password: x"))
	f.Fuzz(func(t *testing.T, b []byte) {
		targettest.ReadLine(t, New(), b)
	})
}
