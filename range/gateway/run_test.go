package gateway

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
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

	d, err := proxy.SOCKS5("tcp", listen, &proxy.Auth{User: short, Password: token}, proxy.Direct)
	if err != nil {
		t.Fatal(err)
	}
	var c net.Conn
	for deadline := time.Now().Add(5 * time.Second); ; {
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

	sc := bufio.NewScanner(stdoutR)
	if !sc.Scan() {
		t.Fatalf("no telemetry line: %v", sc.Err())
	}
	tel, ok, err := ParseTelemetry(sc.Bytes())
	if !ok || err != nil {
		t.Fatalf("line %q: %v %v", sc.Text(), ok, err)
	}
	if tel.Team != team || tel.Host != "mail.example" || tel.BytesUp != 9 || tel.BytesDown != 42 || tel.Port != x.addr().Port() {
		t.Errorf("telemetry %+v", tel)
	}
	cancel()
	go io.Copy(io.Discard, stdoutR)
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
		if k == DefaultTokenEnv {
			return "tok"
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
