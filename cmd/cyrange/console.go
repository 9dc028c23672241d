package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/cyrange/cyrange/images/target"
	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/range/operator"
)

// runConsole applies a remedy in a target's admin console. It runs inside
// the range (in a checker container, whose network the console lets in).
func runConsole(ctx context.Context, e *env, args []string) error {
	ts := targets()
	usage := "usage: cyrange console remedy --target NAME --url URL WEAKNESS (password in $" + operator.EnvPassword +
		"; NAME: " + strings.Join(ts.Names(), ", ") + ")"
	if len(args) == 0 || args[0] != "remedy" {
		return usagef("%s", usage)
	}
	fs := newFlagSet(e, "console remedy")
	name := fs.String("target", "", "the target's name")
	url := fs.String("url", "", "the admin console's base URL")
	pos, err := parsePositional(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 1 || *url == "" {
		return usagef("%s", usage)
	}
	t, ok := ts.Lookup(*name)
	if !ok {
		return usagef("no target %q in this build; %s", *name, usage)
	}
	c := target.Console{URL: *url, Password: e.getenv(operator.EnvPassword)}
	if c.Password == "" {
		return usagef("$%s is empty", operator.EnvPassword)
	}
	if src := e.getenv(cyberrange.EnvSourceAddr); src != "" {
		a, err := netip.ParseAddr(src)
		if err != nil {
			return usagef("$%s: %v", cyberrange.EnvSourceAddr, err)
		}
		c.Dialer = &net.Dialer{LocalAddr: &net.TCPAddr{IP: a.AsSlice()}, Timeout: 10 * time.Second}
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := t.Remedy(cctx, c, pos[0]); err != nil {
		return fmt.Errorf("remedy of %s: %w", pos[0], err)
	}
	fmt.Fprintf(e.stdout, "remedy of %s applied\n", pos[0])
	return nil
}
