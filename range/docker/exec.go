package docker

import (
	"bytes"
	"context"
	"fmt"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"

	cyberrange "github.com/cyrange/cyrange/range"
)

var _ cyberrange.Execer = (*Driver)(nil)

// execPoll is how often Exec asks whether a command whose output has
// ended has exited.
const execPoll = 20 * time.Millisecond

// Exec runs the image's cyrange binary with args in the running container
// name (docker exec), with env added to the container's environment, and
// returns what it wrote on stdout and stderr. It runs in the container's
// network namespace, so it reaches what the container reaches and comes
// from the container's addresses. Options.ExecTimeout bounds it, the
// command's run included; a command still running then is left to the
// engine, which ends it with its container.
//
// It returns an error wrapping cyberrange.ErrNotFound when the container
// does not exist or does not run.
func (d *Driver) Exec(ctx context.Context, name string, args []string, env map[string]string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("docker: exec: %w: no container", cyberrange.ErrInvalid)
	}
	if len(args) == 0 {
		return "", fmt.Errorf("docker: exec in %s: %w: no command", name, cyberrange.ErrInvalid)
	}
	what := cyberrange.CommandWords(args)
	op := "exec " + what + " in"
	ctx, cancel := context.WithTimeout(ctx, d.execTimeout)
	defer cancel()
	cctx, ccancel := d.call(ctx)
	ex, err := d.e.ExecCreate(cctx, name, client.ExecCreateOptions{
		Cmd: append([]string{imageBinary}, args...), Env: envList(env), AttachStdout: true, AttachStderr: true,
	})
	ccancel()
	if cerrdefs.IsConflict(err) { // the engine's answer for a container that is stopped or paused
		return "", fmt.Errorf("docker: %s %s: %w: it does not run: %w", op, name, cyberrange.ErrNotFound, err)
	}
	if err != nil {
		return "", fail(op, name, err)
	}
	cctx, ccancel = d.call(ctx)
	att, err := d.e.ExecAttach(cctx, ex.ID, client.ExecAttachOptions{})
	ccancel()
	if err != nil {
		return "", fail(op, name, err)
	}
	// The attached connection outlives the call that opened it: the end
	// of ctx closes it, so that a command that never ends cannot hold
	// Exec.
	stop := context.AfterFunc(ctx, att.Close)
	var out bytes.Buffer
	_, err = stdcopy.StdCopy(&out, &out, att.Reader)
	stop()
	att.Close()
	output := out.String()
	if ctx.Err() != nil {
		return output, fmt.Errorf("docker: %s %s: %w", op, name, ctx.Err())
	}
	if err != nil {
		return output, fmt.Errorf("docker: %s %s: reading its output: %w", op, name, err)
	}
	// The engine may close the output a moment before it records the
	// exit.
	for {
		cctx, ccancel = d.call(ctx)
		st, err := d.e.ExecInspect(cctx, ex.ID, client.ExecInspectOptions{})
		ccancel()
		if err != nil {
			return output, fail(op, name, err)
		}
		if !st.Running {
			if st.ExitCode != 0 {
				return output, fmt.Errorf("docker: %s %s: exit status %d: %s", op, name, st.ExitCode, cyberrange.LastLine([]byte(output)))
			}
			return output, nil
		}
		t := time.NewTimer(execPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return output, fmt.Errorf("docker: %s %s: %w", op, name, ctx.Err())
		case <-t.C:
		}
	}
}
