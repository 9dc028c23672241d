package probe

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// syncBuffer is a bytes.Buffer safe to write from one goroutine while
// another reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// serve answers every connection to a fresh loopback listener with
// greeting (nothing if empty), and closes it once the peer has gone.
func serve(t *testing.T, greeting string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			if greeting != "" {
				c.Write([]byte(greeting))
				c.Close()
				continue
			}
			wg.Go(func() { c.Read(make([]byte, 1)); c.Close() })
		}
	})
	return l.Addr().String()
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := l.Addr().String()
	l.Close()
	return a
}

func TestDial(t *testing.T) {
	hello, silent, closed := serve(t, "hello\n"), serve(t, ""), closedAddr(t)
	tests := []struct {
		desc          string
		network, addr string
		fails         bool
		out, not      string
	}{
		{desc: "passes the first line on", network: "tcp", addr: hello, out: "connected to " + hello + " from 127.0.0.1:"},
		{desc: "a greeting", network: "tcp", addr: hello, out: "received hello\n"},
		{desc: "a silent peer", network: "tcp", addr: silent, out: "connected to " + silent, not: "received"},
		{desc: "refused", network: "tcp", addr: closed, fails: true, out: "no connection to " + closed},
		{desc: "no unix socket", network: "unix", addr: t.TempDir() + "/docker.sock", fails: true, out: "no connection to "},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			var out bytes.Buffer
			err := Dial(context.Background(), &out, tt.network, tt.addr, 300*time.Millisecond)
			got := out.String()
			if err != nil {
				got = err.Error()
			}
			if (err != nil) != tt.fails || !strings.Contains(got, tt.out) || tt.not != "" && strings.Contains(got, tt.not) {
				t.Errorf("error %v, output %q: want failure %v and %q without %q", err, out.String(), tt.fails, tt.out, tt.not)
			}
		})
	}
}

func TestReady(t *testing.T) {
	up, closed := serve(t, "hello\n"), closedAddr(t)
	var out bytes.Buffer
	if err := Ready(context.Background(), &out, []string{up}, time.Second); err != nil || out.String() != "ready: "+up+"\n" {
		t.Errorf("ready: %v, %q", err, out.String())
	}
	out.Reset()
	err := Ready(context.Background(), &out, []string{up, closed}, 300*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "nothing listens on "+closed) || out.String() != "ready: "+up+"\n" {
		t.Errorf("one missing: %v, %q", err, out.String())
	}
}

// TestDialUntil: a listener that comes up late is found; one that never
// does is given up on when ctx ends.
func TestDialUntil(t *testing.T) {
	addr := closedAddr(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := DialUntil(ctx, addr, 10*time.Millisecond); err == nil {
		t.Fatal("connected to nothing")
	}
	late := make(chan net.Listener, 1)
	time.AfterFunc(100*time.Millisecond, func() {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Errorf("the address was taken meanwhile: %v", err)
		}
		late <- l
	})
	ctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := DialUntil(ctx, addr, 10*time.Millisecond)
	if l := <-late; l != nil {
		l.Close()
	}
	if err != nil {
		t.Errorf("late listener: %v", err)
	}
}

func TestListen(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() { done <- Listen(ctx, out, []string{"127.0.0.1:0", "127.0.0.1:0"}) }()
	var addrs []string
	deadline := time.Now().Add(30 * time.Second)
	for len(addrs) < 2 && time.Now().Before(deadline) {
		addrs = addrs[:0]
		for line := range strings.SplitSeq(out.String(), "\n") {
			if a, ok := strings.CutPrefix(line, "listening on "); ok {
				addrs = append(addrs, a)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(addrs) != 2 {
		t.Fatalf("listening on %v: %s", addrs, out.String())
	}
	for _, a := range addrs {
		c, err := net.Dial("tcp", a)
		if err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if err != nil || strings.TrimSpace(line) != c.LocalAddr().String() {
			t.Errorf("answer %q %v, want the client's address %s", line, err, c.LocalAddr())
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("listen: %v: %s", err, out.String())
	}
	if !strings.Contains(out.String(), "connection from 127.0.0.1:") {
		t.Errorf("no connection logged: %s", out.String())
	}
}

func TestListenRefusesATakenAddress(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var out bytes.Buffer
	if err := Listen(context.Background(), &out, []string{l.Addr().String()}); err == nil {
		t.Errorf("listened on a taken address: %s", out.String())
	}
}

// TestRun: each probe from its command line, flags before or after the
// addresses, and the mistakes that are usage errors.
func TestRun(t *testing.T) {
	hello, closed := serve(t, "hello\n"), closedAddr(t)
	usage := &UsageError{Usage}
	tests := []struct {
		desc   string
		args   []string
		err    error
		out    string
		stderr string
	}{
		{desc: "tcp", args: []string{"tcp", hello}, out: "received hello\n"},
		{desc: "flags after the address", args: []string{"tcp", hello, "--timeout", "1s"}, out: "connected to " + hello},
		{desc: "flags before", args: []string{"ready", "--timeout", "1s", hello}, out: "ready: " + hello + "\n"},
		{desc: "refused", args: []string{"tcp", closed, "--timeout", "300ms"}, err: errors.New("no connection to " + closed)},
		{desc: "not ready", args: []string{"ready", hello, closed, "--timeout", "300ms"}, err: errors.New("nothing listens on " + closed)},
		{desc: "nothing", err: usage},
		{desc: "unknown probe", args: []string{"udp", "x"}, err: usage},
		{desc: "no address", args: []string{"tcp"}, err: usage},
		{desc: "two addresses", args: []string{"unix", "a", "b"}, err: usage},
		{desc: "listen without address", args: []string{"listen"}, err: usage},
		{desc: "ready without address", args: []string{"ready", "--timeout", "1s"}, err: usage},
		{desc: "unknown flag", args: []string{"tcp", hello, "--nope"}, err: &UsageError{"flag provided but not defined: -nope"},
			stderr: "flag provided but not defined: -nope\nUsage of cyrange probe tcp:\n"},
		{desc: "help", args: []string{"ready", "-h"}, err: flag.ErrHelp, stderr: "Usage of cyrange probe ready:\n  -timeout duration"},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			var out, stderr bytes.Buffer
			err := Run(context.Background(), tt.args, &out, &stderr)
			var ue *UsageError
			switch want := tt.err.(type) {
			case nil:
				if err != nil {
					t.Errorf("error %v", err)
				}
			case *UsageError:
				if !errors.As(err, &ue) || *ue != *want {
					t.Errorf("error %#v, want %#v", err, want)
				}
			default:
				if errors.As(err, &ue) || err == nil || !strings.HasPrefix(err.Error(), want.Error()) {
					t.Errorf("error %v, want %q", err, want)
				}
			}
			if !strings.Contains(out.String(), tt.out) || !strings.HasPrefix(stderr.String(), tt.stderr) {
				t.Errorf("out %q, stderr %q: want %q and %q", out.String(), stderr.String(), tt.out, tt.stderr)
			}
		})
	}
}
