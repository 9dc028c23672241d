package portal

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
	"github.com/cyrange/cyrange/images/portal/contract"
	"github.com/cyrange/cyrange/images/target"
	"github.com/cyrange/cyrange/internal/firewall"
	"github.com/cyrange/cyrange/internal/secretenv"
)

// memoryLimit is the target process's soft memory limit, unless
// $GOMEMLIMIT sets another.
const memoryLimit = 400 << 20

// Run is the role `cyrange target portal`: it parses args, serves until
// ctx is done, and writes the action log and the flow records of the
// connections it accepts as JSON lines to stdout.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("portal", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "0.0.0.0", "host to bind")
	httpPort := fs.Int("http-port", 80, "public portal port")
	adminPort := fs.Int("admin-port", 8025, "admin console port")
	sites := fs.Int("sites", DefaultSites, fmt.Sprintf("number of sites, the main portal included (1 to %d)", MaxSites))
	dossiers := fs.Int("dossiers", DefaultDossiers, fmt.Sprintf("generated dossiers (0 to %d)", MaxDossiers))
	seed := fs.Uint64("seed", 1, "seed of the generated province")
	weak := fs.String("weaknesses", "all", `planted weaknesses: comma-separated names, "all" or "none"`)
	adminAllow := fs.String("admin-allow", "", "source ranges (CIDR, comma-separated) allowed on the admin port; empty allows any")
	secret := fs.String("checker-secret", "", "secret shared with the checker (default $CYRANGE_CHECKER_SECRET, or the file $CYRANGE_CHECKER_SECRET_FILE names)")
	replica := fs.String("replica", "", `this replica's name in the game ("portal.d01"), which the checker's master passwords depend on`)
	operator := fs.String("admin-password", "", "password of the console's operator account (default $CYRANGE_ADMIN_PASSWORD, else random)")
	domain := fs.String("domain", DefaultDomain, "the province's domain")
	province := fs.String("province", "", `the province's written name ("Tiền Giang"); default from the domain`)
	mailDomain := fs.String("mail-domain", "", "the province's mail domain (default the domain)")
	mailAccount := fs.String("mail-account", "congthongtin", "the portal's mailbox on the mail server")
	mailPassword := fs.String("mail-password", "", "that mailbox's password (default derived from $CYRANGE_PEER_SECRET, else made up from the seed)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("portal: unexpected argument %q", fs.Arg(0))
	}
	weaknesses, err := contract.ParseWeaknesses(*weak)
	if err != nil {
		return fmt.Errorf("portal: --weaknesses: %w", err)
	}
	allow, err := firewall.Parse(*adminAllow)
	if err != nil {
		return fmt.Errorf("portal: --admin-allow: %w", err)
	}
	if *secret == "" {
		if *secret, err = secretenv.Get("CYRANGE_CHECKER_SECRET"); err != nil {
			return fmt.Errorf("portal: %w", err)
		}
	}
	if *operator == "" {
		if *operator, err = secretenv.Get("CYRANGE_ADMIN_PASSWORD"); err != nil {
			return fmt.Errorf("portal: %w", err)
		}
	}
	peer, err := secretenv.Get(target.EnvPeerSecret)
	if err != nil {
		return fmt.Errorf("portal: %w", err)
	}
	if *mailPassword == "" && peer != "" {
		// The mail replica of the same defending team derives the same
		// password for this mailbox: what the backup leaks opens it.
		*mailPassword = target.PeerPassword(peer, *mailAccount)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(memoryLimit)
	}
	out := flow.SyncWriter(stdout)
	srv, err := New(ctx, Config{
		Listen: *listen, HTTPPort: *httpPort, AdminPort: *adminPort, Sites: *sites, Dossiers: *dossiers, Seed: *seed,
		Domain: *domain, Province: *province, Weaknesses: weaknesses, AdminAllow: allow,
		MailDomain: *mailDomain, MailAccount: *mailAccount, MailPassword: *mailPassword,
		CheckerSecret: *secret, Replica: *replica, OperatorPassword: *operator,
		Logger: slog.New(slog.NewJSONHandler(out, nil)), Flows: flow.NewRecorder(flow.Options{Output: out}),
	})
	if err != nil {
		return err
	}
	if err := srv.Start(ctx); err != nil {
		_ = srv.Close()
		return err
	}
	if *secret == "" {
		fmt.Fprintln(stderr, "portal: warning: no checker secret, the checker cannot log in as an officer")
	}
	if *operator == "" {
		// Made up at start: stderr only, never the action log the
		// defence console streams to everybody watching it.
		fmt.Fprintf(stderr, "%s%s\n", contract.OperatorLine, srv.OperatorPassword())
	}
	<-ctx.Done()
	if err := srv.Close(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
