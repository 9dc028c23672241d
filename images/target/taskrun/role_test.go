package taskrun_test

import (
	"context"
	"flag"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/cyrange/cyrange/images/target/targettest"
	"github.com/cyrange/cyrange/images/target/taskrun"
	"github.com/cyrange/cyrange/scoreboard/checks"
)

// infoChecker describes itself as the service its role built it for.
type infoChecker struct {
	service string
	port    int
	s       taskrun.Settings
}

func (c *infoChecker) Info(context.Context) (checks.ServiceInfo, error) {
	return checks.ServiceInfo{ServiceName: c.service, FlagVariants: 1}, nil
}

func (c *infoChecker) Run(context.Context, checks.Task) (checks.TaskResult, error) {
	return checks.TaskResult{Result: checks.OK}, nil
}

// role is a target's checker role with one flag of its own; built
// receives what the role built its checker with.
func role(built chan<- *infoChecker) targettest.Role {
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		fs := flag.NewFlagSet("checker", flag.ContinueOnError)
		port := fs.Int("http-port", 80, "targets' port")
		return taskrun.Role{Service: "linesvc", Flags: fs, New: func(s taskrun.Settings) checks.Checker {
			c := &infoChecker{service: "linesvc", port: *port, s: s}
			built <- c
			return c
		}}.Run(ctx, args, stdout, stderr)
	}
}

func TestRoleNeedsSecretAndTargets(t *testing.T) {
	t.Setenv("CYRANGE_CHECKER_SECRET", "")
	for _, args := range [][]string{
		{"--listen", "127.0.0.1:0", "--targets", "10.0.1.10=mail.d01"},
		{"--listen", "127.0.0.1:0", "--checker-secret", "s"},
		{"--listen", "127.0.0.1:0", "--checker-secret", "s", "--targets", "10.0.1.10=a b"},
		{"--listen", "127.0.0.1:0", "--checker-secret", "s", "--targets", "10.0.1.10=a", "extra"},
		{"--listen", "127.0.0.1:0", "--checker-secret", "s", "--targets", "10.0.1.10=a", "--no-such-flag"},
	} {
		if err := role(make(chan *infoChecker, 1))(context.Background(), args, io.Discard, io.Discard); err == nil {
			t.Errorf("started with %v", args)
		}
	}
}

// TestRoleServesItsCallerOnly: the role builds its checker from its
// flags, the secret from the environment when no flag gives it, and
// serves it to the token derived from the secret and nobody else.
func TestRoleServesItsCallerOnly(t *testing.T) {
	t.Setenv("CYRANGE_CHECKER_SECRET", "env-secret")
	t.Setenv("CYRANGE_CHECKER_TOKEN", "")
	built := make(chan *infoChecker, 1)
	base := targettest.ServeChecker(t, role(built), "--listen", "127.0.0.1:0", "--http-port", "8080", "--targets", "10.0.1.10=mail.d01, Mail.Example.=mail.d02")
	c := <-built
	if c.s.Secret != "env-secret" || c.port != 8080 || len(c.s.Replicas) != 2 || c.s.Replicas["mail.example"] != "mail.d02" || c.s.Logger == nil {
		t.Errorf("built with %+v, port %d", c.s, c.port)
	}
	hc := &http.Client{Timeout: 10 * time.Second}
	t.Cleanup(hc.CloseIdleConnections)
	targettest.RequiresToken(t, hc, base, "env-secret", checks.Task{Method: checks.PutFlag, Address: "10.0.1.10", Timeout: 1000})
	info, err := checks.NewClient(base, hc, checks.WithToken(checks.CallerToken("env-secret"))).Info(context.Background())
	if err != nil || info.ServiceName != "linesvc" {
		t.Errorf("info with the token: %+v %v", info, err)
	}
}

// TestRoleCallerToken: another engine's token, from the flag or the
// environment, replaces the one derived from the secret.
func TestRoleCallerToken(t *testing.T) {
	for _, c := range []struct {
		desc, flag, env string
	}{
		{"flag", "engine-token", ""},
		{"environment", "", "engine-token"},
	} {
		t.Run(c.desc, func(t *testing.T) {
			t.Setenv("CYRANGE_CHECKER_TOKEN", c.env)
			args := []string{"--listen", "127.0.0.1:0", "--checker-secret", "s", "--targets", "10.0.1.10=mail.d01"}
			if c.flag != "" {
				args = append(args, "--caller-token", c.flag)
			}
			base := targettest.ServeChecker(t, role(make(chan *infoChecker, 1)), args...)
			hc := &http.Client{Timeout: 10 * time.Second}
			t.Cleanup(hc.CloseIdleConnections)
			if _, err := checks.NewClient(base, hc, checks.WithToken(checks.CallerToken("s"))).Info(context.Background()); err == nil {
				t.Error("the derived token is still served")
			}
			if _, err := checks.NewClient(base, hc, checks.WithToken("engine-token")).Info(context.Background()); err != nil {
				t.Errorf("the engine's token: %v", err)
			}
		})
	}
}
