package checks

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// canned is a checker that records the tasks it gets and gives a canned
// answer.
type canned struct {
	info    ServiceInfo
	infoErr error
	res     TaskResult
	err     error
	// honour makes Run wait for its context and return its error.
	honour bool
	panics bool

	mu        sync.Mutex
	got       []Task
	remaining []time.Duration
}

func (c *canned) Info(context.Context) (ServiceInfo, error) { return c.info, c.infoErr }

func (c *canned) Run(ctx context.Context, t Task) (TaskResult, error) {
	c.mu.Lock()
	c.got = append(c.got, t)
	if dl, ok := ctx.Deadline(); ok {
		c.remaining = append(c.remaining, time.Until(dl))
	}
	c.mu.Unlock()
	if c.panics {
		panic("canned checker bug")
	}
	if c.honour {
		<-ctx.Done()
		return TaskResult{}, fmt.Errorf("canned: %w", ctx.Err())
	}
	return c.res, c.err
}

func TestClientRoundTrip(t *testing.T) {
	havoc := Task{TaskID: 9, Method: Havoc, Address: "127.0.0.1:1", TeamID: 1, TeamName: "blue",
		CurrentRoundID: 3, RelatedRoundID: 3, Timeout: 5000, RoundLength: 15000, TaskChainID: "havoc_s0_r3_t1_i0"}
	tests := []struct {
		desc string
		task Task
		res  TaskResult
	}{
		{"every field", goldenTask, TaskResult{Result: OK, Message: Str("m"), AttackInfo: Str("a"), Flag: Str("f")}},
		{"null fields", havoc, TaskResult{Result: Mumble}},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			ch := &canned{res: tc.res, info: ServiceInfo{ServiceName: "s", FlagVariants: 1, NoiseVariants: 2,
				HavocVariants: 3, ExploitVariants: 4}}
			c := serveChecker(t, ch)
			res, err := c.Run(t.Context(), tc.task)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(res, tc.res) {
				t.Errorf("result %+v, want %+v", res, tc.res)
			}
			if len(ch.got) != 1 || !reflect.DeepEqual(ch.got[0], tc.task) {
				t.Errorf("checker got %+v, want %+v", ch.got, tc.task)
			}
			info, err := c.Info(t.Context())
			if err != nil || info != ch.info {
				t.Errorf("info %+v, %v; want %+v", info, err, ch.info)
			}
		})
	}
}

func TestClientErrors(t *testing.T) {
	big := strings.Repeat("x", maxReplyBody+10)
	tests := []struct {
		desc    string
		handler http.HandlerFunc
		want    string
	}{
		{"server error", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "boom", 500) }, "status 500"},
		{"not json", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "<html>") }, "undecodable"},
		{"unknown result", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, `{"result":"MAYBE"}`) }, `unknown result "MAYBE"`},
		{"null", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, `null`) }, `unknown result ""`},
		{"too large", func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprintf(w, `{"result":"OK","message":"%s"}`, big)
		}, "larger than"},
		{"task refused", NewHandler(&canned{}, nil).ServeHTTP, "status 400"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			t.Cleanup(srv.Close)
			c := clientFor(t, srv.URL)
			res, err := c.Run(t.Context(), Task{Method: PutFlag, TaskChainID: "flag_s0_r1_t0_i0", Timeout: 5000})
			if err == nil || !strings.HasPrefix(err.Error(), "checks: putflag flag_s0_r1_t0_i0 at ") ||
				!strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %+v, %v; want an error with %q", res, err, tc.want)
			}
		})
	}
	t.Run("unreachable", func(t *testing.T) {
		c := clientFor(t, "http://"+closedAddr(t))
		if _, err := c.Run(t.Context(), Task{Method: Havoc, Timeout: 5000}); err == nil {
			t.Error("no error from a checker nobody serves")
		}
		if _, err := c.Info(t.Context()); err == nil || !strings.HasPrefix(err.Error(), "checks: service info") {
			t.Errorf("info: %v", err)
		}
	})
	t.Run("canceled", func(t *testing.T) {
		c := serveChecker(t, &canned{honour: true})
		ctx, cancel := context.WithCancel(t.Context())
		time.AfterFunc(20*time.Millisecond, cancel)
		_, err := c.Run(ctx, Task{Method: Havoc, Timeout: 5000})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("got %v, want a cancellation error", err)
		}
	})
}

func TestClientTimeout(t *testing.T) {
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(stop) })
	c := clientFor(t, srv.URL)
	start := time.Now()
	res, err := c.Run(t.Context(), Task{Method: Havoc, Timeout: 50})
	if err != nil || res.Result != Offline || deref(res.Message) != msgTimeout {
		t.Errorf("got %+v, %v; want OFFLINE timeout", res, err)
	}
	// A hang guard: the client must give up with the task's timeout,
	// not wait for the server.
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("took %v for a 50 ms task", d)
	}
}

func TestClientInfoErrors(t *testing.T) {
	tests := []struct {
		desc string
		body string
		code int
		want string
	}{
		{"server error", "{}", 500, "status 500"},
		{"not json", "nope", 200, "undecodable service info"},
		{"negative variants", `{"serviceName":"s","havocVariants":-1}`, 200, "-1 variants"},
		{"too many variants", `{"serviceName":"s","noiseVariants":100000}`, 200, "100000 variants"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(tc.code)
				fmt.Fprint(w, tc.body)
			}))
			t.Cleanup(srv.Close)
			_, err := clientFor(t, srv.URL+"/").Info(t.Context())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
}
