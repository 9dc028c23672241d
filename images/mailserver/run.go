package mailserver

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"

	"github.com/cyrange/cyrange/images/flow"
	"github.com/cyrange/cyrange/images/mailserver/contract"
	"github.com/cyrange/cyrange/images/target"
	"github.com/cyrange/cyrange/internal/firewall"
	"github.com/cyrange/cyrange/internal/secretenv"
)

// memoryLimit is the target process's soft memory limit, unless
// $GOMEMLIMIT sets another.
const memoryLimit = 400 << 20

// portalPassword is the password of the portal's mailbox that the
// portal replica of the same defending team derives too, when the range
// gives the two a shared secret.
func portalPassword() (string, error) {
	secret, err := secretenv.Get(target.EnvPeerSecret)
	if err != nil || secret == "" {
		return "", err
	}
	return target.PeerPassword(secret, PortalMailbox), nil
}

// RunTarget is the role `cyrange target mailserver`: it parses args, serves
// until ctx is done, and writes the action log and the flow records of
// the connections it accepts as JSON lines to stdout.
func RunTarget(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mailserver", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "0.0.0.0", "host to bind")
	smtpPort := fs.Int("smtp-port", 25, "SMTP port")
	imapPort := fs.Int("imap-port", 143, "IMAP port")
	httpPort := fs.Int("http-port", 80, "webmail port")
	adminPort := fs.Int("admin-port", 8025, "admin console port")
	accounts := fs.Int("accounts", 1200, fmt.Sprintf("number of mailboxes (at least %d)", MinAccounts))
	seed := fs.Uint64("seed", 1, "seed of the generated province")
	weak := fs.String("weaknesses", "all", `planted weaknesses: comma-separated names, "all" or "none"`)
	adminAllow := fs.String("admin-allow", "", "source ranges (CIDR, comma-separated) allowed on the admin port; empty allows any")
	secret := fs.String("checker-secret", "", "secret shared with the checker (default $CYRANGE_CHECKER_SECRET, or the file $CYRANGE_CHECKER_SECRET_FILE names)")
	replica := fs.String("replica", "", `this replica's name in the game ("mail.d01"), which the checker's master passwords depend on`)
	operator := fs.String("admin-password", "", "password of the console's operator account (default $CYRANGE_ADMIN_PASSWORD, else random)")
	domain := fs.String("domain", DefaultDomain, "mail domain")
	province := fs.String("province", "", `the province's written name ("Tiền Giang"); default from the domain`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("mailserver: unexpected argument %q", fs.Arg(0))
	}
	weaknesses, err := contract.ParseWeaknesses(*weak)
	if err != nil {
		return fmt.Errorf("mailserver: --weaknesses: %w", err)
	}
	allow, err := firewall.Parse(*adminAllow)
	if err != nil {
		return fmt.Errorf("mailserver: --admin-allow: %w", err)
	}
	if *secret == "" {
		if *secret, err = secretenv.Get("CYRANGE_CHECKER_SECRET"); err != nil {
			return fmt.Errorf("mailserver: %w", err)
		}
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		// The quotas keep the mail held under about 250 MiB; a soft limit
		// makes the collector work harder before the heap, garbage
		// included, nears the container's 512 MiB.
		debug.SetMemoryLimit(memoryLimit)
	}
	if *operator == "" {
		if *operator, err = secretenv.Get("CYRANGE_ADMIN_PASSWORD"); err != nil {
			return fmt.Errorf("mailserver: %w", err)
		}
	}
	portalPW, err := portalPassword()
	if err != nil {
		return fmt.Errorf("mailserver: %w", err)
	}
	out := flow.SyncWriter(stdout)
	srv, err := New(Config{
		Listen: *listen, SMTPPort: *smtpPort, IMAPPort: *imapPort, HTTPPort: *httpPort, AdminPort: *adminPort,
		Accounts: *accounts, Seed: *seed, Domain: *domain, Province: *province, Weaknesses: weaknesses, AdminAllow: allow,
		CheckerSecret: *secret, Replica: *replica, OperatorPassword: *operator, PortalMailPassword: portalPW,
		Logger: slog.New(slog.NewJSONHandler(out, nil)), Flows: flow.NewRecorder(flow.Options{Output: out}),
	})
	if err != nil {
		return err
	}
	if err := srv.Start(ctx); err != nil {
		return err
	}
	if *secret == "" {
		fmt.Fprintln(stderr, "mailserver: warning: no checker secret, the checker cannot log in after a password reset")
	}
	if *operator == "" {
		// Made up at start: stderr only, never the action log the defence
		// console streams to everybody watching it.
		fmt.Fprintf(stderr, "mailserver: admin console operator password: %s\n", srv.OperatorPassword())
	}
	<-ctx.Done()
	if err := srv.Close(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
