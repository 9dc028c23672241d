package swarm

import (
	"context"

	"github.com/moby/moby/client"
)

// engine is the part of the Docker SDK's client the driver uses, and
// nothing more, so that tests can fake it by embedding it and overriding
// what they need. Every call goes to a manager node: services, tasks and
// secrets exist only there, and overlay networks are listed there with
// their swarm scope.
type engine interface {
	Ping(ctx context.Context, o client.PingOptions) (client.PingResult, error)
	ClientVersion() string
	Close() error

	NetworkCreate(ctx context.Context, name string, o client.NetworkCreateOptions) (client.NetworkCreateResult, error)
	NetworkInspect(ctx context.Context, id string, o client.NetworkInspectOptions) (client.NetworkInspectResult, error)
	NetworkList(ctx context.Context, o client.NetworkListOptions) (client.NetworkListResult, error)
	NetworkRemove(ctx context.Context, id string, o client.NetworkRemoveOptions) (client.NetworkRemoveResult, error)

	ServiceCreate(ctx context.Context, o client.ServiceCreateOptions) (client.ServiceCreateResult, error)
	ServiceInspect(ctx context.Context, id string, o client.ServiceInspectOptions) (client.ServiceInspectResult, error)
	ServiceList(ctx context.Context, o client.ServiceListOptions) (client.ServiceListResult, error)
	ServiceRemove(ctx context.Context, id string, o client.ServiceRemoveOptions) (client.ServiceRemoveResult, error)
	ServiceLogs(ctx context.Context, id string, o client.ServiceLogsOptions) (client.ServiceLogsResult, error)
	TaskList(ctx context.Context, o client.TaskListOptions) (client.TaskListResult, error)

	SecretCreate(ctx context.Context, o client.SecretCreateOptions) (client.SecretCreateResult, error)
	SecretList(ctx context.Context, o client.SecretListOptions) (client.SecretListResult, error)
	SecretRemove(ctx context.Context, id string, o client.SecretRemoveOptions) (client.SecretRemoveResult, error)

	NodeList(ctx context.Context, o client.NodeListOptions) (client.NodeListResult, error)
}

var _ engine = (*client.Client)(nil)
