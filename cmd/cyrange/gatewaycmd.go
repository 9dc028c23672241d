package main

import (
	"context"
	"errors"
	"strings"

	"github.com/cyrange/cyrange/range/gateway"
)

// runGateway is the role `cyrange gateway`: an attack team's SOCKS5 entry
// into the range.
func runGateway(ctx context.Context, e *env, args []string) error {
	err := gateway.RunGateway(ctx, args, e.getenv, e.stdout, e.stderr)
	if errors.Is(err, gateway.ErrUsage) {
		return usagef("%s", strings.TrimPrefix(err.Error(), gateway.ErrUsage.Error()+": "))
	}
	return err
}
