package docker

import (
	"context"
	"io"

	"github.com/moby/moby/client"

	"github.com/cyrange/cyrange/range/internal/dockerapi"
)

// engine is the part of the Docker SDK's client the driver uses, and
// nothing more, so that tests can fake it by embedding it and overriding
// what they need.
type engine interface {
	dockerapi.Networks
	NetworkConnect(ctx context.Context, id string, o client.NetworkConnectOptions) (client.NetworkConnectResult, error)

	ContainerCreate(ctx context.Context, o client.ContainerCreateOptions) (client.ContainerCreateResult, error)
	ContainerStart(ctx context.Context, id string, o client.ContainerStartOptions) (client.ContainerStartResult, error)
	ContainerUnpause(ctx context.Context, id string, o client.ContainerUnpauseOptions) (client.ContainerUnpauseResult, error)
	ContainerInspect(ctx context.Context, id string, o client.ContainerInspectOptions) (client.ContainerInspectResult, error)
	ContainerList(ctx context.Context, o client.ContainerListOptions) (client.ContainerListResult, error)
	ContainerRemove(ctx context.Context, id string, o client.ContainerRemoveOptions) (client.ContainerRemoveResult, error)
	ContainerKill(ctx context.Context, id string, o client.ContainerKillOptions) (client.ContainerKillResult, error)
	ContainerLogs(ctx context.Context, id string, o client.ContainerLogsOptions) (client.ContainerLogsResult, error)
	Events(ctx context.Context, o client.EventsListOptions) client.EventsResult
	ExecCreate(ctx context.Context, id string, o client.ExecCreateOptions) (client.ExecCreateResult, error)
	ExecStart(ctx context.Context, execID string, o client.ExecStartOptions) (client.ExecStartResult, error)
	ExecAttach(ctx context.Context, execID string, o client.ExecAttachOptions) (client.ExecAttachResult, error)
	ExecInspect(ctx context.Context, execID string, o client.ExecInspectOptions) (client.ExecInspectResult, error)

	VolumeCreate(ctx context.Context, o client.VolumeCreateOptions) (client.VolumeCreateResult, error)
	VolumeList(ctx context.Context, o client.VolumeListOptions) (client.VolumeListResult, error)
	VolumeRemove(ctx context.Context, id string, o client.VolumeRemoveOptions) (client.VolumeRemoveResult, error)

	ImageBuild(ctx context.Context, buildContext io.Reader, o client.ImageBuildOptions) (client.ImageBuildResult, error)
	ImageImport(ctx context.Context, source client.ImageImportSource, ref string, o client.ImageImportOptions) (client.ImageImportResult, error)
	ImageRemove(ctx context.Context, id string, o client.ImageRemoveOptions) (client.ImageRemoveResult, error)
}

var _ engine = (*client.Client)(nil)
