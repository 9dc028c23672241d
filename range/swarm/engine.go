package swarm

import (
	"context"

	"github.com/moby/moby/client"

	"github.com/cyrange/cyrange/range/internal/dockerapi"
)

// engine is the part of the Docker SDK's client the driver uses, and
// nothing more, so that tests can fake it by embedding it and overriding
// what they need. Every call goes to a manager node: services, tasks and
// secrets exist only there, and overlay networks are listed there with
// their swarm scope.
type engine interface {
	dockerapi.Networks

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
