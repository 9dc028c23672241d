package docker

import (
	"bytes"
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
	"go.uber.org/goleak"

	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/range/internal/dockerapi/dockerapitest"
)

// execEngine runs one exec: it records what was asked, serves stream as
// the command's multiplexed output (or nothing until closed, when hang is
// set), and reports the command running for running inspections, then
// exited with code.
type execEngine struct {
	engine
	createErr error
	stream    []byte
	hang      bool
	running   int
	code      int

	mu       sync.Mutex
	created  client.ExecCreateOptions
	target   string
	inspects int
}

func (e *execEngine) ExecCreate(_ context.Context, id string, o client.ExecCreateOptions) (client.ExecCreateResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.target, e.created = id, o
	if e.createErr != nil {
		return client.ExecCreateResult{}, e.createErr
	}
	return client.ExecCreateResult{ID: "exec-1"}, nil
}

func (e *execEngine) ExecAttach(_ context.Context, id string, _ client.ExecAttachOptions) (client.ExecAttachResult, error) {
	if id != "exec-1" {
		return client.ExecAttachResult{}, cerrdefs.ErrNotFound.WithMessage("exec " + id)
	}
	engineEnd, driverEnd := net.Pipe()
	go func() {
		defer engineEnd.Close()
		if e.hang {
			// Until the driver closes its end.
			engineEnd.Read(make([]byte, 1))
			return
		}
		if len(e.stream) > 0 {
			engineEnd.Write(e.stream)
		}
	}()
	return client.ExecAttachResult{HijackedResponse: client.NewHijackedResponse(driverEnd, "application/vnd.docker.multiplexed-stream")}, nil
}

func (e *execEngine) ExecInspect(_ context.Context, id string, _ client.ExecInspectOptions) (client.ExecInspectResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.inspects++
	if e.inspects <= e.running {
		return client.ExecInspectResult{ID: id, Running: true}, nil
	}
	return client.ExecInspectResult{ID: id, ExitCode: e.code}, nil
}

func TestExecFake(t *testing.T) {
	defer goleak.VerifyNone(t)
	var out bytes.Buffer
	dockerapitest.Frame(&out, stdcopy.Stdout, "applying w1\n")
	dockerapitest.Frame(&out, stdcopy.Stderr, "warning: slow\n")
	dockerapitest.Frame(&out, stdcopy.Stdout, "remedy of w1 applied\n")
	tests := []struct {
		desc    string
		e       *execEngine
		wantOut string
		wantErr string
		is      error
	}{
		{"success, both streams in order", &execEngine{stream: out.Bytes()},
			"applying w1\nwarning: slow\nremedy of w1 applied\n", "", nil},
		{"the exit is recorded after the output ends", &execEngine{stream: out.Bytes(), running: 3},
			"applying w1\nwarning: slow\nremedy of w1 applied\n", "", nil},
		{"a failure carries its status and last line", &execEngine{stream: out.Bytes(), code: 3},
			"applying w1\nwarning: slow\nremedy of w1 applied\n",
			"docker: exec console remedy in cyrange-ex-checker-mailserver: exit status 3: remedy of w1 applied", nil},
		{"no output", &execEngine{code: 127}, "",
			"docker: exec console remedy in cyrange-ex-checker-mailserver: exit status 127: (no output)", nil},
		{"a stopped container", &execEngine{createErr: cerrdefs.ErrConflict.WithMessage("container is not running")}, "",
			"", cyberrange.ErrNotFound},
		{"no such container", &execEngine{createErr: cerrdefs.ErrNotFound.WithMessage("no such container")}, "",
			"", cyberrange.ErrNotFound},
		{"a command that never ends", &execEngine{hang: true}, "", "", context.DeadlineExceeded},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			d := newDriver(tt.e, Options{CallTimeout: time.Second, ExecTimeout: 200 * time.Millisecond})
			env := map[string]string{"CYRANGE_ADMIN_PASSWORD": "pw", "A": "1"}
			start := time.Now()
			got, err := d.Exec(t.Context(), "cyrange-ex-checker-mailserver",
				[]string{"console", "remedy", "--url", "http://10.62.0.10:8025", "w1"}, env)
			switch {
			case tt.is != nil:
				if !errors.Is(err, tt.is) {
					t.Fatalf("err %v, want %v", err, tt.is)
				}
			case tt.wantErr != "":
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
			case err != nil:
				t.Fatal(err)
			}
			if got != tt.wantOut {
				t.Errorf("output %q, want %q", got, tt.wantOut)
			}
			if el := time.Since(start); el > 10*time.Second {
				t.Errorf("took %v", el)
			}
			c := tt.e.created
			if tt.e.target != "cyrange-ex-checker-mailserver" || !c.AttachStdout || !c.AttachStderr || c.TTY || c.AttachStdin ||
				!slices.Equal(c.Cmd, []string{"/cyrange", "console", "remedy", "--url", "http://10.62.0.10:8025", "w1"}) ||
				!slices.Equal(c.Env, []string{"A=1", "CYRANGE_ADMIN_PASSWORD=pw"}) {
				t.Errorf("exec created in %q with %+v", tt.e.target, c)
			}
		})
	}
}

func TestExecRefusesNothingToRun(t *testing.T) {
	d := newDriver(&execEngine{}, Options{})
	for _, tc := range []struct {
		name string
		args []string
	}{{"", []string{"probe"}}, {"c", nil}} {
		if _, err := d.Exec(t.Context(), tc.name, tc.args, nil); !errors.Is(err, cyberrange.ErrInvalid) {
			t.Errorf("Exec(%q, %q): %v", tc.name, tc.args, err)
		}
	}
}

// TestExecEngine runs the image's cyrange in a container on an internal
// network: it connects from the container's own address, a failure
// carries the command's last line, and a container that does not run is
// not found.
func TestExecEngine(t *testing.T) {
	d := needEngine(t)
	ctx := t.Context()
	c := listenerOnNetwork(t, d, "dkexec", "10.179.5", 7005)
	if err := d.Start(ctx, c); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := d.WaitReady(wctx, c); err != nil {
		t.Fatal(err)
	}
	out, err := d.Exec(ctx, c.Name, []string{"probe", "tcp", "10.179.5.10:7005", "--timeout", "10s"}, map[string]string{"A": "1"})
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "connected to 10.179.5.10:7005 from 10.179.5.10:") {
		t.Errorf("output %q", out)
	}
	out, err = d.Exec(ctx, c.Name, []string{"probe", "tcp", "10.179.5.10:7006", "--timeout", "1s"}, nil)
	if err == nil || !strings.Contains(err.Error(), "exit status 1: ") || !strings.Contains(err.Error(), cyberrange.LastLine([]byte(out))) ||
		!strings.Contains(out, "no connection to 10.179.5.10:7006") {
		t.Errorf("a probe of a closed port: %v\n%s", err, out)
	}
	if _, err := d.Exec(ctx, "cyrange-dkexec-nobody", []string{"probe", "ready", ":1"}, nil); !errors.Is(err, cyberrange.ErrNotFound) {
		t.Errorf("in a missing container: %v", err)
	}
	if err := d.Kill(ctx, c.Name); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Exec(ctx, c.Name, []string{"probe", "ready", ":7005"}, nil); !errors.Is(err, cyberrange.ErrNotFound) {
		t.Errorf("in a killed container: %v", err)
	}
}
