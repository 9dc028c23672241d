package gateway

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/proxy"
)

// lockedBuffer is written by the gateway and read by the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func TestRunGatewayPrintsTelemetryLines(t *testing.T) {
	x := startExactTarget(t, 42)
	listen := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdoutR, stdoutW := io.Pipe()
	var stderr lockedBuffer
	env := map[string]string{"TEAM7_TOKEN": token}
	done := make(chan error, 1)
	go func() {
		done <- RunGateway(ctx, []string{"--team", team, "--user", short, "--token-env", "TEAM7_TOKEN",
			"--listen", listen, "--source", team7Source.String(),
			"--allow", x.addr().String(), "--resolve", fmt.Sprintf("mail.example=%s", x.addr().Addr())},
			func(k string) string { return env[k] }, stdoutW, &stderr)
		stdoutW.Close()
	}()

	// The telemetry lines, read as they come: a gateway whose output
	// nobody reads stops, as it should.
	lines := make(chan string, 1024)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdoutR)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()

	d, err := proxy.SOCKS5("tcp", listen, &proxy.Auth{User: short, Password: token}, proxy.Direct)
	if err != nil {
		t.Fatal(err)
	}
	var c net.Conn
	for deadline := time.Now().Add(30 * time.Second); ; {
		if c, err = d.Dial("tcp", fmt.Sprintf("mail.example:%d", x.addr().Port())); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway never answered: %v\n%s", err, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := exchange(t, c, 9); got != 42 {
		t.Errorf("read %d", got)
	}
	if s := <-x.seen; s.remote.Addr() != team7Source {
		t.Errorf("target saw %v", s.remote)
	}

	// A heartbeat when it starts, then the connection's open and close
	// records; their bytes add up to what crossed.
	var states []string
	var up, down int64
	for len(states) == 0 || states[len(states)-1] != "close" {
		var l string
		select {
		case l = <-lines:
		case <-time.After(30 * time.Second):
			t.Fatalf("no close record after %v", states)
		}
		tel, ok, err := ParseTelemetry([]byte(l))
		if !ok || err != nil {
			t.Fatalf("line %q: %v %v", l, ok, err)
		}
		states = append(states, tel.State)
		if tel.State == "heartbeat" {
			if tel.Team != team || tel.Run == "" || tel.At.IsZero() {
				t.Errorf("heartbeat %+v", tel)
			}
			continue
		}
		if tel.Team != team || tel.Host != "mail.example" || tel.Port != x.addr().Port() || tel.ID != 1 {
			t.Errorf("telemetry %+v", tel)
		}
		up, down = up+tel.BytesUp, down+tel.BytesDown
	}
	if states[0] != "heartbeat" || !slices.Contains(states, "open") || up != 9 || down != 42 {
		t.Errorf("records %v with %d bytes up and %d down, want a heartbeat first, open and close, 9 up and 42 down", states, up, down)
	}
	go func() {
		for range lines {
		}
	}()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("RunGateway: %v", err)
	}
	if strings.Contains(stderr.String(), token) {
		t.Error("the token appears in the logs")
	}
	if !strings.Contains(stderr.String(), "gateway: serving") {
		t.Errorf("logs: %s", stderr.String())
	}
}

func TestRunGatewayUsage(t *testing.T) {
	env := func(k string) string {
		switch k {
		case DefaultTokenEnv:
			return "tok"
		case "UNREADABLE_FILE":
			return "/nonexistent/cyrange-token"
		}
		return ""
	}
	for _, tc := range []struct {
		desc string
		args []string
		want error
	}{
		{"no team", []string{"--listen", "127.0.0.1:0"}, ErrUsage},
		{"bad allow", []string{"--team", "t", "--allow", "mail:25"}, ErrUsage},
		{"bad resolve", []string{"--team", "t", "--resolve", "mail"}, ErrUsage},
		{"bad source", []string{"--team", "t", "--source", "here"}, ErrUsage},
		{"token not set", []string{"--team", "t", "--token-env", "NOT_SET"}, ErrUsage},
		{"token file unreadable", []string{"--team", "t", "--token-env", "UNREADABLE"}, ErrUsage},
		{"stray argument", []string{"--team", "t", "extra"}, ErrUsage},
		{"unknown flag", []string{"--team", "t", "--password", "x"}, ErrUsage},
		{"help", []string{"-h"}, flag.ErrHelp},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			err := RunGateway(context.Background(), tc.args, env, io.Discard, io.Discard)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
}

func TestRunGatewayListenError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	err = RunGateway(context.Background(), []string{"--team", "t", "--listen", ln.Addr().String()},
		func(string) string { return "tok" }, io.Discard, io.Discard)
	if err == nil || errors.Is(err, ErrUsage) {
		t.Fatalf("err %v, want a listen error", err)
	}
}
