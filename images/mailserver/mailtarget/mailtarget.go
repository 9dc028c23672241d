// Package mailtarget is the mail server seen through cyrange's target
// interface (images/target): its ports, flag stores and weaknesses, its
// roles, its reference exploits and the remedies of its admin console, and
// the reading of its action log. It is the one place that ties the server,
// its checker, its exploits and its web client together, so that nothing
// outside images/ needs to know any of them.
package mailtarget

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/cyrange/cyrange/images/mailserver"
	"github.com/cyrange/cyrange/images/mailserver/checker"
	"github.com/cyrange/cyrange/images/mailserver/contract"
	"github.com/cyrange/cyrange/images/mailserver/exploits"
	"github.com/cyrange/cyrange/images/mailserver/webclient"
	"github.com/cyrange/cyrange/images/target"
	"github.com/cyrange/cyrange/scenarios"
	"github.com/cyrange/cyrange/scoreboard/checks"
)

// Target is the mail server as a target.
type Target struct{}

var _ target.Target = Target{}

// New returns the mail server target.
func New() Target { return Target{} }

// Name is the image and role name.
func (Target) Name() string { return checker.ServiceName }

// adminPort is where the range puts every built-in target's console.
const adminPort = 8025

// Ports are the server's defaults.
func (Target) Ports() []target.Port {
	return []target.Port{{Name: "smtp", Number: 25}, {Name: "imap", Number: 143}, {Name: "http", Number: 80},
		{Name: "admin", Number: adminPort, Admin: true}}
}

// FlagStores are the checker's variants.
func (Target) FlagStores() []string { return contract.Stores() }

// CheckOptions checks the options as the server reads them.
func (Target) CheckOptions(o scenarios.Options) []scenarios.OptionProblem {
	return mailserver.CheckOptions(o)
}

// facts are what the README's weakness table says of each weakness
// beyond its exploit: the ATT&CK techniques and the console's remedy.
var facts = map[string]struct {
	desc, remedy string
	techniques   []string
}{
	contract.WeakPassword: {"the four leaders chose obvious passwords",
		"reset the leaders' passwords (Tài khoản → Lãnh đạo → Đặt lại mật khẩu)", []string{"T1110.001", "T1078"}},
	contract.SMTPVrfy: {"SMTP answers VRFY and EXPN; EXPN of a leader reveals a secretary's mailbox on the initial password",
		"untick Trả lời lệnh SMTP VRFY/EXPN", []string{"T1087.003", "T1078"}},
	contract.NoLockout: {"no lockout on failed logins, and the office clerk's password is in every wordlist",
		"tick Khóa tạm tài khoản sau N lần đăng nhập sai", []string{"T1110.001"}},
	contract.WebmailIDOR: {"the webmail opens any message by its id without checking its owner",
		"apply patch VNMAIL-2024-0117", []string{"T1190", "T1114.002"}},
	contract.PathTraversal: {"the attachment download joins the file parameter to the storage path as given",
		"apply patch VNMAIL-2024-0142", []string{"T1190", "T1083"}},
	contract.AdminDefaultPassword: {"the vendor's console account admin keeps its documented default password, also on the public webmail",
		"change the admin password (Mật khẩu quản trị)", []string{"T1078.001", "T1114.002"}},
}

// Weaknesses lists the planted weaknesses with their reference exploits.
func (Target) Weaknesses() []target.Weakness {
	var out []target.Weakness
	for _, e := range exploits.All() {
		f := facts[e.Weakness]
		out = append(out, target.Weakness{Name: e.Weakness, Description: f.desc, Techniques: f.techniques,
			Stores: e.Stores, ExploitName: e.Name, Exploit: adapt(e), Remedy: f.remedy})
	}
	return out
}

// adapt runs an exploit against a replica as the target interface gives
// it.
func adapt(e exploits.Exploit) target.Exploit {
	return func(ctx context.Context, d target.Dialer, r target.Replica) ([]string, error) {
		return e.Run(ctx, d, ExploitTarget(r))
	}
}

// ExploitTarget is a replica as the mail's exploits take it, for the
// chains of other targets that end on the mail server.
func ExploitTarget(r target.Replica) exploits.Target {
	return exploits.Target{Host: r.Host, SMTPPort: r.Port("smtp", 0), IMAPPort: r.Port("imap", 0),
		HTTPPort: r.Port("http", 0), AttackInfo: r.AttackInfo, Domain: r.Options.String("domain", "")}
}

// WeaknessOn reads the options as the server reads its --weaknesses.
func (Target) WeaknessOn(o scenarios.Options, w string) bool {
	return target.WeaknessOn(o, w, contract.ParseWeaknesses)
}

// RunTarget runs the server.
func (Target) RunTarget(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return mailserver.RunTarget(ctx, args, stdout, stderr)
}

// RunChecker serves the checker.
func (Target) RunChecker(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return checker.RunChecker(ctx, args, stdout, stderr)
}

// NewChecker builds an in-process checker.
func (Target) NewChecker(c target.CheckerConfig) (checks.Checker, error) {
	return checker.New(checker.Config{Secret: c.Secret, Replicas: c.Replicas, SMTPPort: c.Ports["smtp"],
		IMAPPort: c.Ports["imap"], HTTPPort: c.Ports["http"], Logger: c.Logger}), nil
}

// operatorLine is how the server prints the operator's password on its
// standard error, for the operator's eyes.
var operatorLine = regexp.MustCompile(`admin console operator password: (\S+)`)

// OperatorPassword finds the operator's password in a line of output.
func (Target) OperatorPassword(line string) (string, bool) {
	if m := operatorLine.FindStringSubmatch(line); m != nil {
		return m[1], true
	}
	return "", false
}

// OperatorUser is the console account the operator's password opens.
func (Target) OperatorUser() string { return mailserver.OperatorUser }

// Remedy does in the admin console, as the operator, what the README
// gives as the remedy of weakness w.
func (Target) Remedy(ctx context.Context, c target.Console, w string) error {
	var d webclient.Dialer
	if c.Dialer != nil {
		d = c.Dialer
	}
	a := webclient.NewAdmin(c.URL, d, mailserver.OperatorUser, c.Password)
	defer a.Close()
	switch w {
	case contract.WeakPassword:
		leaders, err := a.Users(ctx, "", "leader")
		if err != nil {
			return err
		}
		for _, l := range leaders {
			if _, err := a.ResetPassword(ctx, l.Addr, ""); err != nil {
				return err
			}
		}
		return nil
	case contract.SMTPVrfy:
		_, err := a.Update(ctx, webclient.Settings{VRFY: webclient.Bool(false)})
		return err
	case contract.NoLockout:
		_, err := a.Update(ctx, webclient.Settings{Lockout: webclient.Bool(true)})
		return err
	case contract.WebmailIDOR:
		_, err := a.Update(ctx, webclient.Settings{IDORPatched: webclient.Bool(true)})
		return err
	case contract.PathTraversal:
		_, err := a.Update(ctx, webclient.Settings{TraversalPatched: webclient.Bool(true)})
		return err
	case contract.AdminDefaultPassword:
		return a.ChangePassword(ctx, mailserver.AdminUser, "Remedy-"+rand.Text()[:12])
	}
	return fmt.Errorf("mailtarget: no remedy known for weakness %q", w)
}

// ReadLine reads an action of the server's log: its remedies are the
// admin console's actions on the admin port (proto "admin"), which only
// the replica's own network and the checkers reach; the same actions
// through the vendor console on the webmail (proto "http") may be an
// intruder's and are not remedies.
func (Target) ReadLine(b []byte) (target.Line, bool) {
	l, ok := target.ReadJSONLine(b)
	if !ok {
		return l, false
	}
	l.Remedy = remedyOf(l)
	l.Technique = techniqueOf(l, b)
	return l, true
}

// remedyOf names a remedy after its action: "settings: <what changed>",
// "reset_password: <mailbox>", "admin_password: <account>".
func remedyOf(l target.Line) string {
	if l.Proto != "admin" {
		return ""
	}
	switch l.Action {
	case "settings":
		if strings.TrimSpace(l.Changes) == "" {
			return "" // saved without a change
		}
		return "settings: " + l.Changes
	case "reset_password", "admin_password":
		return l.Action + ": " + l.Target
	}
	return ""
}

// techniqueOf says what a watching defender makes of an action: a
// refused login (brute force), a VRFY or EXPN (account discovery), a
// download whose file name climbs out of the message (a traversal of the
// public-facing webmail).
func techniqueOf(l target.Line, raw []byte) string {
	switch {
	case l.Action == "vrfy" || l.Action == "expn":
		return "T1087"
	case l.Action == "download" && bytes.Contains(raw, []byte("..")):
		return "T1190"
	case (l.Action == "login" || l.Action == "auth") && l.Level == "WARN":
		return "T1110"
	}
	return ""
}
