package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"syscall"
	"time"

	cyberrange "github.com/cyrange/cyrange/range"
)

var _ cyberrange.Execer = (*Driver)(nil)

// execWaitDelay is how long Exec waits for the command's output to close
// once the command is gone: a process it left behind may hold it open.
const execWaitDelay = time.Second

// Exec runs the driver's binary with args as a child of the caller, with
// the container's environment plus env and cyberrange.EnvSourceAddr set to
// the container's primary address: every process of the range shares the
// host's loopback, so a command "inside" a container is one that binds
// its outgoing connections to the container's address, as the
// container's own process would. It runs in the container's directory,
// where a Start or Remove that finds the container's process gone ends it
// along with the container's strays, as Docker ends a container's execs
// with it. ctx bounds it: when ctx ends, its process group is killed.
//
// It returns an error wrapping cyberrange.ErrNotFound when the container
// is not recorded or does not run.
func (d *Driver) Exec(ctx context.Context, name string, args []string, env map[string]string) (string, error) {
	if err := checkName(name); err != nil {
		return "", fmt.Errorf("local: exec: %w", err)
	}
	if len(args) == 0 {
		return "", fmt.Errorf("local: exec in %s: %w: no command", name, cyberrange.ErrInvalid)
	}
	what := cyberrange.CommandWords(args)
	if err := checkEnv(env); err != nil {
		return "", fmt.Errorf("local: exec %s in %s: %w", what, name, err)
	}
	r, err := d.readContainer(name)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "", fmt.Errorf("local: exec %s in %s: %w", what, name, cyberrange.ErrNotFound)
	case err != nil:
		return "", fmt.Errorf("local: exec %s in %s: %w", what, name, err)
	case r.Removing || !r.alive():
		return "", fmt.Errorf("local: exec %s in %s: %w: it does not run", what, name, cyberrange.ErrNotFound)
	}
	full := maps.Clone(r.Container.Env)
	if full == nil {
		full = map[string]string{}
	}
	maps.Copy(full, env)
	if len(r.Container.Networks) > 0 {
		// The driver's, not the caller's: it is where the container is.
		full[cyberrange.EnvSourceAddr] = r.Container.Networks[0].Address.String()
	}
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, d.o.Binary, args...)
	cmd.Env = environ(full)
	cmd.Dir = d.containerDir(name)
	cmd.Stdout, cmd.Stderr = &out, &out
	// Its own process group, so that an end of ctx ends whatever it
	// started too, not only itself.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = execWaitDelay
	err = cmd.Run()
	output := out.String()
	if err == nil {
		return output, nil
	}
	if ctx.Err() != nil {
		return output, fmt.Errorf("local: exec %s in %s: %w", what, name, ctx.Err())
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code := ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			// As a shell and Docker report it.
			code = 128 + int(ws.Signal())
		}
		return output, fmt.Errorf("local: exec %s in %s: exit status %d: %s", what, name, code, cyberrange.LastLine([]byte(output)))
	}
	return output, fmt.Errorf("local: exec %s in %s: %w", what, name, err)
}
