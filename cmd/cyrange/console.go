package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/moby/moby/client"

	"github.com/cyrange/cyrange/images/mailserver"
	"github.com/cyrange/cyrange/images/mailserver/webclient"
	cyberrange "github.com/cyrange/cyrange/range"
)

// EnvAdminPassword carries the console operator's password to `cyrange
// console`, never on its command line.
const EnvAdminPassword = "CYRANGE_ADMIN_PASSWORD"

// runConsole applies a remedy in a mail target's admin console. Run
// inside the range (in a checker container, whose network the console
// lets in) when the host cannot reach the console itself.
func runConsole(ctx context.Context, e *env, args []string) error {
	const usage = "usage: cyrange console remedy --url URL [--user USER] WEAKNESS (password in $" + EnvAdminPassword + ")"
	if len(args) == 0 || args[0] != "remedy" {
		return usagef("%s", usage)
	}
	fs := newFlagSet(e, "console remedy")
	url := fs.String("url", "", "the admin console's base URL")
	user := fs.String("user", mailserver.OperatorUser, "console account")
	pos, err := parsePositional(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 1 || *url == "" {
		return usagef("%s", usage)
	}
	password := e.getenv(EnvAdminPassword)
	if password == "" {
		return usagef("$%s is empty", EnvAdminPassword)
	}
	a := webclient.NewAdmin(*url, nil, *user, password)
	defer a.Close()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := applyWeaknessRemedy(cctx, a, pos[0]); err != nil {
		return fmt.Errorf("remedy of %s: %w", pos[0], err)
	}
	fmt.Fprintf(e.stdout, "remedy of %s applied\n", pos[0])
	return nil
}

// remedyReplica applies the remedy of weakness w in the admin console of
// the replica of service svc owned by team owner. With the local driver
// the host reaches the console from an address of the replica's network;
// with docker, whose range networks are closed to the host, `cyrange
// console` runs in the service's checker container.
func remedyReplica(ctx context.Context, rg *exerciseRange, driver string, owner, svc int, w string) error {
	if driver == cyberrange.DriverLocal {
		a, err := replicaConsole(ctx, rg, driver, owner, svc)
		if err != nil {
			return err
		}
		defer a.Close()
		return applyWeaknessRemedy(ctx, a, w)
	}
	var target, checker cyberrange.Container
	for _, c := range rg.plan.Containers {
		switch {
		case c.Kind == cyberrange.KindTarget && c.Team == owner && c.Service == svc:
			target = c
		case c.Kind == cyberrange.KindChecker && c.Service == svc:
			checker = c
		}
	}
	if target.Name == "" || checker.Name == "" {
		return fmt.Errorf("no target and checker containers of team %d, service %d", owner, svc)
	}
	addr := rg.plan.Placement().ReplicaAddress(owner, svc)
	port := 0
	for _, p := range target.Ports {
		if p.Name == cyberrange.PortAdmin {
			port = p.Number
		}
	}
	if addr == "" || port == 0 {
		return fmt.Errorf("%s has no admin console", target.Name)
	}
	password, err := operatorPassword(ctx, rg.driver, target.Name)
	if err != nil {
		return err
	}
	url := "http://" + net.JoinHostPort(addr, fmt.Sprint(port))
	return dockerExec(ctx, checker.Name, []string{"/cyrange", "console", "remedy", "--url", url, w},
		[]string{EnvAdminPassword + "=" + password})
}

// dockerExec runs cmd in a running container and fails with its output
// when it exits non-zero.
func dockerExec(ctx context.Context, container string, cmd, env []string) error {
	c, err := client.New(client.FromEnv)
	if err != nil {
		return fmt.Errorf("docker: %w", err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := c.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		return fmt.Errorf("docker: %w", err)
	}
	ex, err := c.ExecCreate(ctx, container, client.ExecCreateOptions{Cmd: cmd, Env: env, AttachStdout: true, AttachStderr: true})
	if err != nil {
		return fmt.Errorf("docker exec in %s: %w", container, err)
	}
	att, err := c.ExecAttach(ctx, ex.ID, client.ExecAttachOptions{})
	if err != nil {
		return fmt.Errorf("docker exec in %s: %w", container, err)
	}
	out, _ := io.ReadAll(att.Reader)
	att.Close()
	in, err := c.ExecInspect(ctx, ex.ID, client.ExecInspectOptions{})
	if err != nil {
		return fmt.Errorf("docker exec in %s: %w", container, err)
	}
	if in.Running || in.ExitCode != 0 {
		return fmt.Errorf("%s in %s: exit %d: %w", strings.Join(cmd[1:3], " "), container, in.ExitCode, errors.New(printable(out)))
	}
	return nil
}

// printable keeps the text of an exec's multiplexed output: its frame
// headers are not text.
func printable(b []byte) string {
	var s strings.Builder
	for _, r := range string(b) {
		if r == '\n' || r >= ' ' && r != 0x7f && r != '\uFFFD' {
			s.WriteRune(r)
		}
	}
	return strings.TrimSpace(s.String())
}
