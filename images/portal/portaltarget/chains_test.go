package portaltarget

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cyrange/cyrange/images/mailserver"
	mailchecker "github.com/cyrange/cyrange/images/mailserver/checker"
	mailcontract "github.com/cyrange/cyrange/images/mailserver/contract"
	"github.com/cyrange/cyrange/images/mailserver/mailtarget"
	"github.com/cyrange/cyrange/images/portal"
	"github.com/cyrange/cyrange/images/target"
	"github.com/cyrange/cyrange/scenarios"
	"github.com/cyrange/cyrange/scoreboard/checks"
)

// province is one defending team's pair of replicas: the portal and the
// mail server, sharing the peer secret as the range gives it.
type province struct {
	replicas map[string]target.Replica
	consoles map[string]target.Console
	mail     checks.Checker
	flags    []string
	chains   []checks.Task
}

const mailOperator = "mail-operator-secret"

func newProvince(t *testing.T, ctx context.Context, weak []target.Step) *province {
	t.Helper()
	on := map[string]map[string]bool{}
	for _, s := range weak {
		if on[s.Target] == nil {
			on[s.Target] = map[string]bool{}
		}
		on[s.Target][s.Weakness] = true
	}
	peer := "peer-secret-of-d01"
	mailPassword := target.PeerPassword(peer, mailserver.PortalMailbox)
	ms, err := mailserver.New(mailserver.Config{Listen: "127.0.0.1", Accounts: 400, Seed: 5, Domain: "lachong.gov.vn",
		Weaknesses: on[mailcontract.ServiceName], CheckerSecret: secret, Replica: "mail.d01", OperatorPassword: mailOperator,
		PortalMailPassword: mailPassword})
	if err != nil {
		t.Fatal(err)
	}
	if err := ms.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ms.Close() })
	ps, err := portal.New(ctx, portal.Config{Listen: "127.0.0.1", Sites: 30, Dossiers: 500, Seed: 5, Domain: "lachong.gov.vn",
		Weaknesses: on[New().Name()], CheckerSecret: secret, Replica: replica, OperatorPassword: operator,
		MailPassword: mailPassword})
	if err != nil {
		t.Fatal(err)
	}
	if err := ps.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ps.Close() })
	p := &province{
		replicas: map[string]target.Replica{
			New().Name(): {Host: "127.0.0.1", Ports: map[string]int{"http": portOf(t, ps.AddrHTTP()), "admin": portOf(t, ps.AddrAdmin())}},
			mailcontract.ServiceName: {Host: "127.0.0.1", Options: scenarios.Options{"domain": "lachong.gov.vn"},
				Ports: map[string]int{"smtp": portOf(t, ms.AddrSMTP()), "imap": portOf(t, ms.AddrIMAP()),
					"http": portOf(t, ms.AddrHTTP()), "admin": portOf(t, ms.AddrAdmin())}},
		},
		consoles: map[string]target.Console{
			New().Name():             {URL: "http://" + ps.AddrAdmin(), Password: operator},
			mailcontract.ServiceName: {URL: "http://" + ms.AddrAdmin(), Password: mailOperator},
		},
		mail: mailchecker.New(mailchecker.Config{Secret: secret, Think: -1, Replicas: map[string]string{"127.0.0.1": "mail.d01"},
			SMTPPort: portOf(t, ms.AddrSMTP()), IMAPPort: portOf(t, ms.AddrIMAP()), HTTPPort: portOf(t, ms.AddrHTTP())}),
	}
	for v := range mailcontract.Stores() {
		flag := newFlag()
		tk := checks.Task{Method: checks.PutFlag, Address: "127.0.0.1", VariantID: v, Flag: checks.Str(flag), Timeout: 30000,
			CurrentRoundID: 1, RelatedRoundID: 1, TaskChainID: checks.ChainID("flag", 1, 1, 1, v)}
		if res := p.run(t, ctx, tk); res.AttackInfo != nil {
			// The game's public hints, as attack teams get them.
			mr := p.replicas[mailcontract.ServiceName]
			mr.AttackInfo = append(mr.AttackInfo, *res.AttackInfo)
			p.replicas[mailcontract.ServiceName] = mr
		}
		tk.Method = checks.GetFlag
		p.chains = append(p.chains, tk)
		p.flags = append(p.flags, flag)
	}
	return p
}

func (p *province) run(t *testing.T, ctx context.Context, tk checks.Task) checks.TaskResult {
	t.Helper()
	res, err := p.mail.Run(ctx, tk)
	if err != nil || res.Result != checks.OK {
		msg := ""
		if res.Message != nil {
			msg = *res.Message
		}
		t.Fatalf("mail checker %s v%d: %s %s %v", tk.Method, tk.VariantID, res.Result, msg, err)
	}
	return res
}

// stolen runs the chain and keeps the planted flags it found.
func (p *province) stolen(ctx context.Context, c target.Chain) ([]string, error) {
	got, err := c.Run(ctx, nil, p.replicas)
	var out []string
	for _, f := range got {
		if slices.Contains(p.flags, f) {
			out = append(out, f)
		}
	}
	return out, err
}

func remedy(ctx context.Context, s target.Step, c target.Console) error {
	if s.Target == mailcontract.ServiceName {
		return mailtarget.New().Remedy(ctx, c, s.Weakness)
	}
	return New().Remedy(ctx, c, s.Weakness)
}

// TestChainsIntoTheMail: each chain takes the mail replica's flags from
// the portal with every weakness of its route on, and the remedy of any
// one weakness of the route, applied through the target interface,
// stops it while the mail checker stays OK; with a weakness of its route
// off it gets nothing.
func TestChainsIntoTheMail(t *testing.T) {
	for _, c := range New().Chains() {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			p := newProvince(t, ctx, c.Route)
			got, err := p.stolen(ctx, c)
			if len(got) == 0 {
				t.Fatalf("the chain got none of the mail's flags: %v", err)
			}
			for _, s := range c.Route {
				t.Run("remedy "+s.Target+" "+s.Weakness, func(t *testing.T) {
					p := newProvince(t, ctx, c.Route)
					if err := remedy(ctx, s, p.consoles[s.Target]); err != nil {
						t.Fatalf("remedy: %v", err)
					}
					if got, err := p.stolen(ctx, c); len(got) > 0 || err == nil {
						t.Errorf("after the remedy the chain got %v (err %v)", got, err)
					}
					for _, tk := range p.chains {
						p.run(t, ctx, tk)
					}
				})
				t.Run("off "+s.Target+" "+s.Weakness, func(t *testing.T) {
					rest := slices.DeleteFunc(slices.Clone(c.Route), func(x target.Step) bool { return x == s })
					p := newProvince(t, ctx, rest)
					if got, err := p.stolen(ctx, c); len(got) > 0 {
						t.Errorf("with %s off the chain got %v (err %v)", s.Weakness, got, err)
					}
				})
			}
		})
	}
}

// TestChainsDescribed: every chain names the targets it crosses, its
// route through them and its techniques.
func TestChainsDescribed(t *testing.T) {
	chains := target.Set{New(), mailtarget.New()}.Chains()
	if len(chains) != 2 {
		t.Fatalf("%d chains, want the portal's 2", len(chains))
	}
	for _, c := range chains {
		if len(c.Targets) < 2 || len(c.Route) < 2 || len(c.Techniques) == 0 || len(c.Stores) == 0 || c.Run == nil ||
			!strings.Contains(c.Description, " ") {
			t.Errorf("chain %s is not fully described: %+v", c.Name, c)
		}
		for _, s := range c.Route {
			if !slices.Contains(c.Targets, s.Target) {
				t.Errorf("chain %s: its route goes through %s, which it does not cross", c.Name, s.Target)
			}
		}
	}
}
