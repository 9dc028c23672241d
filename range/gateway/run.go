package gateway

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/cyrange/cyrange/internal/secretenv"
)

// ErrUsage wraps the errors of a bad command line.
var ErrUsage = errors.New("usage")

// DefaultTokenEnv is the environment variable the token is read from when
// --token-env is not given.
const DefaultTokenEnv = "CYRANGE_GATEWAY_TOKEN"

// DefaultListen is where a gateway listens when --listen is not given: the
// SOCKS port on every interface of its container.
const DefaultListen = "0.0.0.0:1080"

// Command is a gateway's command line. A plan builds one and puts Args in
// its container; RunGateway reads it back.
type Command struct {
	Team string
	// User is the second accepted user name (the team's short id).
	User string
	// TokenEnv names the environment variable holding the team's token:
	// never the token itself, which would show in ps.
	TokenEnv string
	Listen   string
	Source   netip.Addr
	Allow    []Rule
	Resolve  map[string]netip.Addr
	Verbose  bool
	// TelemetryInterval is how often open connections and the heartbeat
	// are recorded; zero means the default.
	TelemetryInterval time.Duration
}

// Args returns the command line, starting with the subcommand "gateway".
func (c Command) Args() []string {
	args := []string{"gateway", "--team", c.Team}
	if c.User != "" {
		args = append(args, "--user", c.User)
	}
	if c.TokenEnv != "" {
		args = append(args, "--token-env", c.TokenEnv)
	}
	if c.Listen != "" {
		args = append(args, "--listen", c.Listen)
	}
	if c.Source.IsValid() {
		args = append(args, "--source", c.Source.String())
	}
	if len(c.Allow) > 0 {
		args = append(args, "--allow", FormatRules(c.Allow))
	}
	if len(c.Resolve) > 0 {
		args = append(args, "--resolve", FormatNames(c.Resolve))
	}
	if c.Verbose {
		args = append(args, "--verbose")
	}
	if c.TelemetryInterval > 0 {
		args = append(args, "--telemetry-interval", c.TelemetryInterval.String())
	}
	return args
}

// ParseCommand reads the flags of `cyrange gateway` (without the
// subcommand). Errors wrap ErrUsage, or flag.ErrHelp for -h.
func ParseCommand(args []string, stderr io.Writer) (Command, error) {
	fs := flag.NewFlagSet("cyrange gateway", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c Command
	var source, allow, resolve string
	fs.StringVar(&c.Team, "team", "", "team name: recorded in telemetry and accepted as the SOCKS user name (required)")
	fs.StringVar(&c.User, "user", "", "another accepted SOCKS user name, e.g. the team's short id")
	fs.StringVar(&c.TokenEnv, "token-env", DefaultTokenEnv, "environment variable holding the team's token (the SOCKS password); VAR_FILE may name a file holding it instead")
	fs.StringVar(&c.Listen, "listen", DefaultListen, "address to serve SOCKS5 on")
	fs.StringVar(&source, "source", "", "address to dial targets from (the team's range); empty lets the kernel choose")
	fs.StringVar(&allow, "allow", "", "destinations the team may reach: HOST:PORTS,... (HOST an address or CIDR, PORTS N, LO-HI or *)")
	fs.StringVar(&resolve, "resolve", "", "names clients may ask for: NAME=ADDRESS,...")
	fs.BoolVar(&c.Verbose, "verbose", false, "log every connection")
	fs.DurationVar(&c.TelemetryInterval, "telemetry-interval", 0, "how often open connections and a heartbeat are recorded (default 5s)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return Command{}, err
		}
		return Command{}, fmt.Errorf("%w: %v", ErrUsage, err)
	}
	if fs.NArg() > 0 {
		return Command{}, fmt.Errorf("%w: unexpected argument %q", ErrUsage, fs.Arg(0))
	}
	if c.Team == "" {
		return Command{}, fmt.Errorf("%w: --team is required", ErrUsage)
	}
	if c.TokenEnv == "" {
		return Command{}, fmt.Errorf("%w: --token-env is empty", ErrUsage)
	}
	if c.TelemetryInterval < 0 {
		return Command{}, fmt.Errorf("%w: --telemetry-interval is negative", ErrUsage)
	}
	if source != "" {
		a, err := netip.ParseAddr(source)
		if err != nil {
			return Command{}, fmt.Errorf("%w: --source: %v", ErrUsage, err)
		}
		c.Source = a
	}
	var err error
	if c.Allow, err = ParseRules(allow); err != nil {
		return Command{}, fmt.Errorf("%w: --allow: %v", ErrUsage, err)
	}
	if c.Resolve, err = ParseNames(resolve); err != nil {
		return Command{}, fmt.Errorf("%w: --resolve: %v", ErrUsage, err)
	}
	return c, nil
}

// RunGateway is the role `cyrange gateway`: it serves until ctx is done,
// writes its telemetry (Options.Record) to stdout, one line
// {"telemetry":{...}} per record, and logs to stderr. getenv reads the token (nil
// means os.Getenv).
func RunGateway(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c, err := ParseCommand(args, stderr)
	if err != nil {
		return err
	}
	if getenv == nil {
		getenv = os.Getenv
	}
	token, err := secretenv.Lookup(getenv, c.TokenEnv)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUsage, err)
	}
	if token == "" {
		return fmt.Errorf("%w: no token in $%s", ErrUsage, c.TokenEnv)
	}
	level := slog.LevelInfo
	if c.Verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if len(c.Allow) == 0 {
		logger.Warn("gateway: no --allow: every destination will be refused")
	}
	g, err := New(Options{
		Team: c.Team, User: c.User, Password: token, Source: c.Source,
		Allow: c.Allow, Resolve: c.Resolve, Logger: logger, TelemetryInterval: c.TelemetryInterval,
		Record: TelemetryWriter(stdout, func(err error) { logger.Error("gateway: telemetry lost", "err", err) }),
	})
	if err != nil {
		return err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", c.Listen)
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	err = g.Serve(ctx, ln)
	g.Close()
	return err
}
