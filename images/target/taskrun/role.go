package taskrun

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/cyrange/cyrange/internal/secretenv"
	"github.com/cyrange/cyrange/scoreboard/checks"
)

// Settings are what every built-in checker role reads alike from its
// flags and environment.
type Settings struct {
	// Secret is the checker secret shared with the targets.
	Secret string
	// Replicas are the only hosts the checker connects to, each with its
	// name in the game (see checks.ParseTargets).
	Replicas map[string]string
	// Logger writes the role's JSON log on its standard output.
	Logger *slog.Logger
}

// Role is a built-in checker's role, `cyrange checker NAME`.
type Role struct {
	// Service is the service's name in the protocol, for the log.
	Service string
	// Flags holds the target's own flags (its ports), nil for none; Run
	// adds the flags every checker has before it parses them.
	Flags *flag.FlagSet
	// New builds the checker once the flags are parsed.
	New func(Settings) checks.Checker
}

// Run serves the role's checker over the enochecker v2 protocol until ctx
// is done. The checker holds what opens the replicas (master passwords
// derive from the secret), so it serves only the caller with its bearer
// token: by default the one cyrange derives from the secret.
func (r Role) Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := r.Flags
	if fs == nil {
		fs = flag.NewFlagSet("checker", flag.ContinueOnError)
	}
	fs.SetOutput(stderr)
	listen := fs.String("listen", "0.0.0.0:8000", "address to serve the checker protocol on")
	secret := fs.String("checker-secret", "", "secret shared with the targets (default $CYRANGE_CHECKER_SECRET, or the file $CYRANGE_CHECKER_SECRET_FILE names)")
	targets := fs.String("targets", "", "the replicas, the only hosts the checker connects to: HOST=NAME,... (NAME: the replica's --replica)")
	token := fs.String("caller-token", "", "bearer token every request must carry (default $CYRANGE_CHECKER_TOKEN, else the one cyrange derives from the secret)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("checker: unexpected argument %q", fs.Arg(0))
	}
	if *secret == "" {
		var err error
		if *secret, err = secretenv.Get("CYRANGE_CHECKER_SECRET"); err != nil {
			return fmt.Errorf("checker: %w", err)
		}
	}
	if *secret == "" {
		return errors.New("checker: --checker-secret (or $CYRANGE_CHECKER_SECRET) is required")
	}
	if *targets == "" {
		return errors.New("checker: --targets is required: the replicas the checker may connect to")
	}
	replicas, err := checks.ParseTargets(*targets)
	if err != nil {
		return err
	}
	if *token == "" {
		if *token, err = secretenv.Get("CYRANGE_CHECKER_TOKEN"); err != nil {
			return fmt.Errorf("checker: %w", err)
		}
	}
	if *token == "" {
		*token = checks.CallerToken(*secret)
	}
	log := slog.New(slog.NewJSONHandler(stdout, nil))
	c := r.New(Settings{Secret: *secret, Replicas: replicas, Logger: log})
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", *listen)
	if err != nil {
		return fmt.Errorf("checker: %w", err)
	}
	srv := &http.Server{Handler: checks.RequireToken(*token, checks.NewHandler(c, log)), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("checker listening", "addr", ln.Addr().String(), "service", r.Service)
	select {
	case err := <-errc:
		return fmt.Errorf("checker: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("checker: shutdown: %w", err)
	}
	<-errc
	return nil
}
