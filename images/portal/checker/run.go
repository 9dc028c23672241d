package checker

import (
	"context"
	"flag"
	"io"

	"github.com/cyrange/cyrange/images/target/taskrun"
	"github.com/cyrange/cyrange/scoreboard/checks"
)

// RunChecker is the role `cyrange checker portal`: the checker served
// over the enochecker v2 protocol until ctx is done, with the ports of the
// targets' portal as its own flags.
func RunChecker(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("checker", flag.ContinueOnError)
	httpPort := fs.Int("http-port", 80, "targets' public portal port")
	adminPort := fs.Int("admin-port", 8025, "targets' admin console port, as a replica sees itself (the exploit method's SSRF)")
	return taskrun.Role{Service: ServiceName, Flags: fs, New: func(s taskrun.Settings) checks.Checker {
		return New(Config{Secret: s.Secret, Replicas: s.Replicas, HTTPPort: *httpPort, AdminPort: *adminPort, Logger: s.Logger})
	}}.Run(ctx, args, stdout, stderr)
}
