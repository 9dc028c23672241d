package portaltarget

import (
	"context"
	"fmt"

	mailcontract "github.com/cyrange/cyrange/images/mailserver/contract"
	"github.com/cyrange/cyrange/images/mailserver/mailtarget"
	"github.com/cyrange/cyrange/images/portal/contract"
	"github.com/cyrange/cyrange/images/portal/exploits"
	"github.com/cyrange/cyrange/images/target"
)

var _ target.Chainer = Target{}

// Chains are the portal's two ways into the mail replica of the same
// defending team.
func (Target) Chains() []target.Chain {
	portal, mail := contract.ServiceName, mailcontract.ServiceName
	mailStores := func(stores ...string) []string {
		out := make([]string, len(stores))
		for i, s := range stores {
			out[i] = mail + "/" + s
		}
		return out
	}
	return []target.Chain{
		{
			Name: "portal-backup-mail-account",
			Description: "the portal's installer backup holds its mailbox on the province's mail server; " +
				"logged in with it, the webmail's IDOR reads the leaders' mail",
			Techniques: []string{"T1083", "T1552.001", "T1078", "T1190"},
			Targets:    []string{portal, mail},
			Stores:     mailStores(mailcontract.StoreInbox, mailcontract.StoreDrafts, mailcontract.StoreAttachments),
			Route:      []target.Step{{Target: portal, Weakness: contract.BackupExposed}, {Target: mail, Weakness: mailcontract.WebmailIDOR}},
			Run: func(ctx context.Context, d target.Dialer, rs map[string]target.Replica) ([]string, error) {
				p, m, err := pair(rs, portal, mail)
				if err != nil {
					return nil, err
				}
				return exploits.BackupMailPivot(ctx, d, portalTarget(p), mailtarget.ExploitTarget(m))
			},
		},
		{
			Name: "portal-ssrf-mail-console",
			Description: "the portal's link preview fetches the mail server's admin console from inside the " +
				"replica's network, with the console vendor's default credentials in the address",
			Techniques: []string{"T1190", "T1090", "T1078.001", "T1114.002"},
			Targets:    []string{portal, mail},
			Stores:     mailStores(mailcontract.StoreInbox, mailcontract.StoreDrafts, mailcontract.StoreAttachments),
			Route:      []target.Step{{Target: portal, Weakness: contract.SSRFImport}, {Target: mail, Weakness: mailcontract.AdminDefaultPassword}},
			Run: func(ctx context.Context, d target.Dialer, rs map[string]target.Replica) ([]string, error) {
				p, m, err := pair(rs, portal, mail)
				if err != nil {
					return nil, err
				}
				return exploits.SSRFMailConsole(ctx, d, portalTarget(p), mailtarget.ExploitTarget(m), m.Port("admin", 0))
			},
		},
	}
}

// pair picks the two replicas a chain crosses.
func pair(rs map[string]target.Replica, a, b string) (target.Replica, target.Replica, error) {
	ra, ok := rs[a]
	if !ok {
		return ra, ra, fmt.Errorf("portaltarget: the chain needs a replica of %s", a)
	}
	rb, ok := rs[b]
	if !ok {
		return ra, rb, fmt.Errorf("portaltarget: the chain needs a replica of %s", b)
	}
	return ra, rb, nil
}

func portalTarget(r target.Replica) exploits.Target {
	return exploits.Target{Host: r.Host, HTTPPort: r.Port("http", 0), AdminPort: r.Port("admin", 0)}
}
