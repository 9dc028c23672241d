package local

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	cyberrange "github.com/cyrange/cyrange/range"
)

// TestExec runs commands in a running fake target: they get its
// environment, what the caller adds and its address to come from, and
// nothing of the caller's own environment.
func TestExec(t *testing.T) {
	ctx := context.Background()
	t.Setenv("CYRANGE_ORGANIZER_SECRET", "must-not-leak")
	d := setup(t, Options{})
	c, addr := fakeTarget(t, "cyrange-localtest-exec")
	if err := d.Start(ctx, c); err != nil {
		t.Fatal(err)
	}
	greet(t, addr.String())
	tests := []struct {
		desc    string
		args    []string
		env     map[string]string
		wantEnv string
		wantErr string
	}{
		{"the container's environment, the caller's and the source address", []string{"say"},
			map[string]string{"CYRANGE_ADMIN_PASSWORD": "pw"},
			"env: CYRANGE_ADMIN_PASSWORD=pw CYRANGE_LOCAL_TEST_ROLE=1 CYRANGE_SOURCE_ADDR=127.61.1.10 CYRANGE_TEST_SECRET=s3cret GORACE=atexit_sleep_ms=0\n",
			""},
		{"the caller's variables win over the container's, not over its address", []string{"say"},
			map[string]string{"CYRANGE_TEST_SECRET": "other", cyberrange.EnvSourceAddr: "127.0.0.1"},
			"env: CYRANGE_LOCAL_TEST_ROLE=1 CYRANGE_SOURCE_ADDR=127.61.1.10 CYRANGE_TEST_SECRET=other GORACE=atexit_sleep_ms=0\n",
			""},
		{"a failure carries its status and last line", []string{"say", "--exit", "3", "--last", "no such weakness: w9"}, nil,
			"", "local: exec say in cyrange-localtest-exec: exit status 3: no such weakness: w9"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			out, err := d.Exec(ctx, c.Name, tt.args, tt.env)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if tt.wantEnv != "" && !strings.HasPrefix(out, tt.wantEnv) {
				t.Errorf("output %q, want it to start with %q", out, tt.wantEnv)
			}
			if !strings.HasSuffix(out, "\n") || strings.Contains(out, "must-not-leak") {
				t.Errorf("output %q", out)
			}
		})
	}
	// The container itself goes on.
	if st, _ := status(t, d, c.Name); st.State != cyberrange.StateRunning {
		t.Errorf("the container after the execs: %+v", st)
	}
}

func TestExecEndsWithContext(t *testing.T) {
	d := setup(t, Options{})
	c, addr := fakeTarget(t, "cyrange-localtest-exec-slow")
	if err := d.Start(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	greet(t, addr.String())
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	out, err := d.Exec(ctx, c.Name, []string{"say", "--sleep", "1m"}, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, output %q", err, out)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("took %v", el)
	}
	// Nothing of it is left in the container.
	pid := readState(t, d, c.Name).Process.Pid
	if left := processesIn(t, d.containerDir(c.Name)); len(left) != 1 || left[0] != pid {
		t.Errorf("processes in the container %v, want its own, %d", left, pid)
	}
}

// TestExecEndsWithItsContainer: removing a container ends what runs in
// it, as Docker does.
func TestExecEndsWithItsContainer(t *testing.T) {
	ctx := context.Background()
	d := setup(t, Options{StopGrace: time.Second})
	c, addr := fakeTarget(t, "cyrange-localtest-exec-removed")
	if err := d.Start(ctx, c); err != nil {
		t.Fatal(err)
	}
	greet(t, addr.String())
	done := make(chan error, 1)
	go func() {
		_, err := d.Exec(ctx, c.Name, []string{"say", "--sleep", "1m"}, nil)
		done <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for len(processesIn(t, d.containerDir(c.Name))) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the command never started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := d.Remove(ctx, c.Name); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "exit status 137") {
			t.Errorf("the command in a removed container: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the command outlived its container")
	}
}

func TestExecRefuses(t *testing.T) {
	ctx := context.Background()
	d := setup(t, Options{})
	running, addr := fakeTarget(t, "cyrange-localtest-exec-running")
	if err := d.Start(ctx, running); err != nil {
		t.Fatal(err)
	}
	greet(t, addr.String())
	dead, addr := fakeTarget(t, "cyrange-localtest-exec-dead")
	if err := d.Start(ctx, dead); err != nil {
		t.Fatal(err)
	}
	greet(t, addr.String())
	if err := d.Kill(ctx, dead.Name); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		desc string
		name string
		args []string
		env  map[string]string
		want error
	}{
		{"unknown container", "cyrange-localtest-nobody", []string{"say"}, nil, cyberrange.ErrNotFound},
		{"a container that does not run", dead.Name, []string{"say"}, nil, cyberrange.ErrNotFound},
		{"no command", running.Name, nil, nil, cyberrange.ErrInvalid},
		{"bad name", "../x", []string{"say"}, nil, cyberrange.ErrInvalid},
		{"bad environment", running.Name, []string{"say"}, map[string]string{"A=B": "c"}, cyberrange.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			if _, err := d.Exec(ctx, tt.name, tt.args, tt.env); !errors.Is(err, tt.want) {
				t.Fatalf("err %v, want %v", err, tt.want)
			}
		})
	}
}
