package checker

import (
	"context"
	"flag"
	"io"

	"github.com/cyrange/cyrange/images/target/taskrun"
	"github.com/cyrange/cyrange/scoreboard/checks"
)

// RunChecker is the role `cyrange checker mailserver`: the checker served
// over the enochecker v2 protocol until ctx is done, with the ports of the
// targets' mail services as its own flags.
func RunChecker(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("checker", flag.ContinueOnError)
	smtpPort := fs.Int("smtp-port", 25, "targets' SMTP port")
	imapPort := fs.Int("imap-port", 143, "targets' IMAP port")
	httpPort := fs.Int("http-port", 80, "targets' webmail port")
	return taskrun.Role{Service: ServiceName, Flags: fs, New: func(s taskrun.Settings) checks.Checker {
		return New(Config{Secret: s.Secret, Replicas: s.Replicas, SMTPPort: *smtpPort, IMAPPort: *imapPort, HTTPPort: *httpPort, Logger: s.Logger})
	}}.Run(ctx, args, stdout, stderr)
}
