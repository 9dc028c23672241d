package dockerapi

import (
	"context"
	"fmt"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"

	cyberrange "github.com/cyrange/cyrange/range"
)

// Networks is the part of the SDK's client that both drivers use: the
// connection and the networks. Each driver's own engine interface embeds
// it and adds what only it calls, so that tests can still fake a driver's
// engine by embedding that interface.
type Networks interface {
	Ping(ctx context.Context, o client.PingOptions) (client.PingResult, error)
	ClientVersion() string
	Close() error

	NetworkCreate(ctx context.Context, name string, o client.NetworkCreateOptions) (client.NetworkCreateResult, error)
	NetworkInspect(ctx context.Context, id string, o client.NetworkInspectOptions) (client.NetworkInspectResult, error)
	NetworkList(ctx context.Context, o client.NetworkListOptions) (client.NetworkListResult, error)
	NetworkRemove(ctx context.Context, id string, o client.NetworkRemoveOptions) (client.NetworkRemoveResult, error)
}

var _ Networks = (*client.Client)(nil)

// Fail wraps an engine error with the driver's prefix ("docker",
// "swarm"), what was being done to what, and the range's sentinel for
// it, if any: "docker: inspect network n1: not found: ...".
func Fail(prefix, op, name string, err error) error {
	switch {
	case cerrdefs.IsNotFound(err):
		return fmt.Errorf("%s: %s %s: %w: %w", prefix, op, name, cyberrange.ErrNotFound, err)
	case client.IsErrConnectionFailed(err), cerrdefs.IsUnavailable(err):
		return fmt.Errorf("%s: %s %s: %w: %w", prefix, op, name, cyberrange.ErrUnavailable, err)
	case cerrdefs.IsInvalidArgument(err):
		return fmt.Errorf("%s: %s %s: %w: %w", prefix, op, name, cyberrange.ErrInvalid, err)
	}
	return fmt.Errorf("%s: %s %s: %w", prefix, op, name, err)
}

// Connect makes a client of the engine at host (DOCKER_HOST, or the
// default socket, when host is empty), negotiates the API version and
// checks that the engine answers within timeout. Its errors wrap
// cyberrange.ErrUnavailable and carry no driver's prefix.
func Connect(ctx context.Context, host string, timeout time.Duration) (*client.Client, client.PingResult, error) {
	opts := []client.Opt{client.FromEnv}
	if host != "" {
		opts = append(opts, client.WithHost(host))
	}
	c, err := client.New(opts...)
	if err != nil {
		return nil, client.PingResult{}, fmt.Errorf("%w: %w", cyberrange.ErrUnavailable, err)
	}
	pctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ping, err := c.Ping(pctx, client.PingOptions{NegotiateAPIVersion: true})
	if err != nil {
		c.Close()
		return nil, client.PingResult{}, fmt.Errorf("engine at %s: %w: %w", c.DaemonHost(), cyberrange.ErrUnavailable, err)
	}
	return c, ping, nil
}
