package checks

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// kvService is a team's service for the tests: an in-memory key-value store
// over TCP speaking lines "PUT key value", "GET key" and "PING".
type kvService struct {
	ln   net.Listener
	lose atomic.Bool // GET finds nothing, as a service that lost its data
	wg   sync.WaitGroup

	mu    sync.Mutex
	data  map[string]string
	conns map[net.Conn]struct{}
}

func startKV(t *testing.T) *kvService {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &kvService{ln: ln, data: map[string]string{}, conns: map[net.Conn]struct{}{}}
	s.wg.Go(s.serve)
	t.Cleanup(s.close)
	return s
}

func (s *kvService) addr() string { return s.ln.Addr().String() }

func (s *kvService) serve() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Go(func() { s.handle(c) })
	}
}

func (s *kvService) handle(c net.Conn) {
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		f := strings.SplitN(sc.Text(), " ", 3)
		var reply string
		switch {
		case f[0] == "PUT" && len(f) == 3:
			s.mu.Lock()
			s.data[f[1]] = f[2]
			s.mu.Unlock()
			reply = "OK"
		case f[0] == "GET" && len(f) == 2:
			s.mu.Lock()
			v, ok := s.data[f[1]]
			s.mu.Unlock()
			reply = "NOTFOUND"
			if ok && !s.lose.Load() {
				reply = "VALUE " + v
			}
		case f[0] == "PING":
			reply = "PONG"
		default:
			reply = "ERR"
		}
		if _, err := fmt.Fprintf(c, "%s\n", reply); err != nil {
			return
		}
	}
}

func (s *kvService) get(key string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.data[key]
	return v, ok
}

func (s *kvService) close() {
	s.ln.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// kvChecker is the service's checker: it stores flags and noise under their
// task chain ids and reads them back.
type kvChecker struct {
	info ServiceInfo

	mu    sync.Mutex
	noise map[string]string
}

func newKVChecker() *kvChecker {
	return &kvChecker{noise: map[string]string{},
		info: ServiceInfo{ServiceName: "kv", FlagVariants: 2, NoiseVariants: 1, HavocVariants: 1, ExploitVariants: 1}}
}

func (k *kvChecker) Info(context.Context) (ServiceInfo, error) { return k.info, nil }

func result(r Result, msg string) TaskResult { return TaskResult{Result: r, Message: Str(msg)} }

func (k *kvChecker) Run(ctx context.Context, t Task) (TaskResult, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", t.Address)
	if err != nil {
		return result(Offline, "cannot connect"), nil
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	rd := bufio.NewReader(conn)
	ask := func(line string) (string, error) {
		if _, err := fmt.Fprintf(conn, "%s\n", line); err != nil {
			return "", err
		}
		s, err := rd.ReadString('\n')
		return strings.TrimSuffix(s, "\n"), err
	}
	lost := result(Offline, "connection lost")
	switch t.Method {
	case PutFlag:
		r, err := ask("PUT " + t.TaskChainID + " " + *t.Flag)
		if err != nil {
			return lost, nil
		}
		if r != "OK" {
			return result(Mumble, "flag not stored"), nil
		}
		return TaskResult{Result: OK, AttackInfo: Str("key " + t.TaskChainID)}, nil
	case GetFlag:
		r, err := ask("GET " + t.TaskChainID)
		if err != nil {
			return lost, nil
		}
		if r != "VALUE "+*t.Flag {
			// Echoing the flag is what a careless checker does; the
			// runner must keep it out of the public message.
			return result(Mumble, "flag "+*t.Flag+" not found"), nil
		}
		return TaskResult{Result: OK}, nil
	case PutNoise:
		noise := fmt.Sprintf("noise-%d", t.TaskID)
		k.mu.Lock()
		k.noise[t.TaskChainID] = noise
		k.mu.Unlock()
		if r, err := ask("PUT noise:" + t.TaskChainID + " " + noise); err != nil {
			return lost, nil
		} else if r != "OK" {
			return result(Mumble, "noise not stored"), nil
		}
		return TaskResult{Result: OK}, nil
	case GetNoise:
		k.mu.Lock()
		noise, ok := k.noise[t.TaskChainID]
		k.mu.Unlock()
		if !ok {
			return TaskResult{}, fmt.Errorf("kv checker: no noise stored for %s", t.TaskChainID)
		}
		r, err := ask("GET noise:" + t.TaskChainID)
		if err != nil {
			return lost, nil
		}
		if r != "VALUE "+noise {
			return result(Mumble, "noise not found"), nil
		}
		return TaskResult{Result: OK}, nil
	case Havoc:
		r, err := ask("PING")
		if err != nil {
			return lost, nil
		}
		if r != "PONG" {
			return result(Mumble, "no pong"), nil
		}
		return TaskResult{Result: OK}, nil
	case Exploit:
		key, ok := strings.CutPrefix(deref(t.AttackInfo), "key ")
		if !ok {
			return result(Mumble, "no key in attack info"), nil
		}
		r, err := ask("GET " + key)
		if err != nil {
			return lost, nil
		}
		flag, _ := strings.CutPrefix(r, "VALUE ")
		sum := sha256.Sum256([]byte(flag))
		if hex.EncodeToString(sum[:]) != *t.FlagHash {
			return result(Mumble, "flag not found"), nil
		}
		return TaskResult{Result: OK, Flag: Str(flag)}, nil
	}
	return TaskResult{}, fmt.Errorf("kv checker: method %q", t.Method)
}

// serveChecker serves c over the protocol on loopback and returns a Client
// for it.
func serveChecker(t *testing.T, c Checker) *Client {
	t.Helper()
	srv := httptest.NewServer(NewHandler(c, nil))
	t.Cleanup(srv.Close)
	return clientFor(t, srv.URL)
}

func clientFor(t *testing.T, url string) *Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return NewClient(url, &http.Client{Transport: tr})
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := ln.Addr().String()
	ln.Close()
	return a
}

// recorder is an in-process checker that remembers every task, in the
// order the tasks started and ended, and answers OK.
type recorder struct {
	info  ServiceInfo
	delay time.Duration

	mu     sync.Mutex
	events []recEvent
	cur    int
	peak   int
}

type recEvent struct {
	start bool
	task  Task
}

func (r *recorder) Info(context.Context) (ServiceInfo, error) { return r.info, nil }

func (r *recorder) Run(ctx context.Context, t Task) (TaskResult, error) {
	r.mu.Lock()
	r.events = append(r.events, recEvent{true, t})
	r.cur++
	r.peak = max(r.peak, r.cur)
	r.mu.Unlock()
	var err error
	if r.delay > 0 {
		select {
		case <-time.After(r.delay):
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	r.mu.Lock()
	r.events = append(r.events, recEvent{false, t})
	r.cur--
	r.mu.Unlock()
	if err != nil {
		return TaskResult{}, fmt.Errorf("recorder: %w", err)
	}
	res := TaskResult{Result: OK, Message: Str("fine")}
	if t.Method == PutFlag {
		res.AttackInfo = Str("user " + t.TaskChainID)
	}
	return res, nil
}

func (r *recorder) tasks() []Task {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ts []Task
	for _, e := range r.events {
		if e.start {
			ts = append(ts, e.task)
		}
	}
	return ts
}
