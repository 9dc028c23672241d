package submit

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// LoadOptions describe a submission load: every team (one token each)
// submits PerTeam flags, over one TCP connection per team or over HTTP.
type LoadOptions struct {
	// Addr is the TCP door's address (Proto "tcp").
	Addr string
	// URL is the HTTP endpoint, e.g. http://host/flags (Proto "http").
	URL   string
	Proto string
	// Tokens holds one token per team; team i uses Tokens[i].
	Tokens []string
	// Flags returns team's i-th flag.
	Flags   func(team, i int) string
	PerTeam int
	// Batch is how many flags go in one write (TCP) or one request
	// (HTTP); 0 means 100.
	Batch int
	// Rate is the steady total rate in flags per second over all teams;
	// 0 means as fast as possible.
	Rate float64
	// Conns is how many HTTP requests each team keeps in flight; 0
	// means 1. TCP uses one pipelined connection per team.
	Conns int
	// Timeout bounds how long the load waits on the server without
	// progress; 0 means 30 s.
	Timeout time.Duration
}

// LoadResult is what a load measured. Latency is per flag, from the write
// that sent it to the reply that judged it.
type LoadResult struct {
	Sent, OK, Other int
	Elapsed         time.Duration
	PerSecond       float64
	P50, P90, P99   time.Duration
	Max             time.Duration
}

// Load runs the submission load of o and measures it. It fails if a team
// cannot connect or authenticate, or the server stops answering.
func Load(ctx context.Context, o LoadOptions) (LoadResult, error) {
	if len(o.Tokens) == 0 || o.Flags == nil || o.PerTeam <= 0 {
		return LoadResult{}, errors.New("submit: load needs tokens, a flag source and a flag count")
	}
	if o.Batch <= 0 {
		o.Batch = 100
	}
	if o.Conns <= 0 {
		o.Conns = 1
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	var run func(ctx context.Context, team int, st *teamLoad) error
	var client *http.Client
	switch o.Proto {
	case "tcp":
		if o.Addr == "" {
			return LoadResult{}, errors.New("submit: tcp load needs an address")
		}
		run = func(ctx context.Context, team int, st *teamLoad) error { return loadTCP(ctx, o, team, st) }
	case "http":
		if o.URL == "" {
			return LoadResult{}, errors.New("submit: http load needs a URL")
		}
		tr := &http.Transport{MaxIdleConnsPerHost: len(o.Tokens) * o.Conns, IdleConnTimeout: 10 * time.Second}
		client = &http.Client{Transport: tr, Timeout: o.Timeout}
		defer tr.CloseIdleConnections()
		run = func(ctx context.Context, team int, st *teamLoad) error { return loadHTTP(ctx, o, client, team, st) }
	default:
		return LoadResult{}, fmt.Errorf("submit: load protocol %q, want tcp or http", o.Proto)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	teams := make([]teamLoad, len(o.Tokens))
	var (
		errMu    sync.Mutex
		firstErr error
	)
	var ready, wg sync.WaitGroup
	start := make(chan struct{})
	for i := range teams {
		teams[i].lat = make([]time.Duration, 0, o.PerTeam)
		teams[i].ready = &ready
		teams[i].start = start
		ready.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := run(ctx, i, &teams[i]); err != nil {
				// The first failure is the cause; the others follow
				// from the cancellation it triggers.
				errMu.Lock()
				if firstErr == nil {
					firstErr = err
				}
				errMu.Unlock()
				teams[i].setReady()
				cancel()
			}
		}()
	}
	// Every team connects and authenticates first, so the clock measures
	// submissions only.
	ready.Wait()
	t0 := time.Now()
	close(start)
	wg.Wait()
	elapsed := time.Since(t0)
	if firstErr != nil {
		return LoadResult{}, firstErr
	}
	res := LoadResult{Elapsed: elapsed}
	var all []time.Duration
	for i := range teams {
		res.Sent += teams[i].sent
		res.OK += teams[i].ok
		res.Other += teams[i].other
		all = append(all, teams[i].lat...)
	}
	if elapsed > 0 {
		res.PerSecond = float64(res.OK+res.Other) / elapsed.Seconds()
	}
	slices.Sort(all)
	if n := len(all); n > 0 {
		q := func(p float64) time.Duration { return all[min(n-1, int(p*float64(n)))] }
		res.P50, res.P90, res.P99, res.Max = q(0.50), q(0.90), q(0.99), all[n-1]
	}
	return res, nil
}

// teamLoad is one team's share of a load.
type teamLoad struct {
	sent, ok, other int
	lat             []time.Duration
	ready           *sync.WaitGroup
	readyOnce       sync.Once
	start           chan struct{}
}

func (t *teamLoad) setReady() { t.readyOnce.Do(t.ready.Done) }

// pace returns when the team's k-th flag is due at a steady total rate,
// or the zero time when the load runs flat out.
func pace(o LoadOptions, t0 time.Time, team, k int) time.Time {
	if o.Rate <= 0 {
		return time.Time{}
	}
	// Teams take turns: team j's batch starting at flag k leaves at
	// (k·teams + j·batch)/rate, so the total is a steady rate rather than
	// every team sending in the same instant.
	teams := float64(len(o.Tokens))
	at := (float64(k)*teams + float64(team*o.Batch)) / o.Rate
	return t0.Add(time.Duration(at * float64(time.Second)))
}

func sleepUntil(ctx context.Context, at time.Time) error {
	d := time.Until(at)
	if at.IsZero() || d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func loadTCP(ctx context.Context, o LoadOptions, team int, st *teamLoad) error {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", o.Addr)
	if err != nil {
		return fmt.Errorf("submit: load: team %d: %w", team, err)
	}
	defer nc.Close()
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()
	br := bufio.NewReaderSize(nc, 64<<10)
	nc.SetDeadline(time.Now().Add(o.Timeout))
	if err := readUntil(br, "\n\n", "Enter your flags"); err != nil {
		return fmt.Errorf("submit: load: team %d: greeting: %w", team, err)
	}
	if _, err := io.WriteString(nc, o.Tokens[team]+"\n"); err != nil {
		return fmt.Errorf("submit: load: team %d: %w", team, err)
	}
	if err := readUntil(br, "\n", "enter your flags"); err != nil {
		return fmt.Errorf("submit: load: team %d: token: %w", team, err)
	}
	nc.SetDeadline(time.Time{})
	st.setReady()
	<-st.start

	// sentAt[i] is when flag i left; the reader turns replies into
	// latencies in order, as the protocol answers in order.
	sentAt := make([]time.Time, o.PerTeam)
	var mu sync.Mutex
	werr := make(chan error, 1)
	go func() {
		t0 := time.Now()
		buf := make([]byte, 0, o.Batch*40)
		for i := 0; i < o.PerTeam; i += o.Batch {
			if err := sleepUntil(ctx, pace(o, t0, team, i)); err != nil {
				werr <- err
				return
			}
			buf = buf[:0]
			n := min(o.Batch, o.PerTeam-i)
			for k := range n {
				buf = append(buf, o.Flags(team, i+k)...)
				buf = append(buf, '\n')
			}
			now := time.Now()
			mu.Lock()
			for k := range n {
				sentAt[i+k] = now
			}
			mu.Unlock()
			if _, err := nc.Write(buf); err != nil {
				werr <- err
				return
			}
		}
		werr <- nil
	}()
	for i := 0; i < o.PerTeam; i++ {
		nc.SetReadDeadline(time.Now().Add(o.Timeout))
		line, err := br.ReadSlice('\n')
		if err != nil {
			return fmt.Errorf("submit: load: team %d: reply %d: %w", team, i, err)
		}
		now := time.Now()
		mu.Lock()
		at := sentAt[i]
		mu.Unlock()
		st.lat = append(st.lat, now.Sub(at))
		st.sent++
		if f := bytes.Fields(line); len(f) >= 2 && string(f[1]) == "OK" {
			st.ok++
		} else {
			st.other++
		}
	}
	if err := <-werr; err != nil {
		return fmt.Errorf("submit: load: team %d: sending: %w", team, err)
	}
	return nil
}

// readUntil reads until the text read ends with end, and fails unless it
// contains want.
func readUntil(br *bufio.Reader, end, want string) error {
	var got strings.Builder
	for !strings.HasSuffix(got.String(), end) {
		b, err := br.ReadByte()
		if err != nil {
			return fmt.Errorf("after %q: %w", got.String(), err)
		}
		got.WriteByte(b)
		if got.Len() > 4096 {
			return errors.New("reply too long")
		}
	}
	if !strings.Contains(got.String(), want) {
		return fmt.Errorf("unexpected reply %q", got.String())
	}
	return nil
}

func loadHTTP(ctx context.Context, o LoadOptions, client *http.Client, team int, st *teamLoad) error {
	st.setReady()
	<-st.start
	t0 := time.Now()
	var mu sync.Mutex
	next := 0
	var wg sync.WaitGroup
	errs := make([]error, o.Conns)
	for c := range o.Conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var body []byte
			for {
				mu.Lock()
				i := next
				next += o.Batch
				mu.Unlock()
				if i >= o.PerTeam {
					return
				}
				if err := sleepUntil(ctx, pace(o, t0, team, i)); err != nil {
					errs[c] = err
					return
				}
				n := min(o.Batch, o.PerTeam-i)
				body = append(body[:0], '[')
				for k := range n {
					if k > 0 {
						body = append(body, ',')
					}
					body = appendJSONString(body, []byte(o.Flags(team, i+k)))
				}
				body = append(body, ']')
				sent := time.Now()
				ok, err := putFlags(ctx, client, o.URL, o.Tokens[team], body)
				if err != nil {
					errs[c] = fmt.Errorf("submit: load: team %d: %w", team, err)
					return
				}
				lat := time.Since(sent)
				mu.Lock()
				st.sent += n
				st.ok += ok
				st.other += n - ok
				for range n {
					st.lat = append(st.lat, lat)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// putFlags sends one batch and returns how many flags were accepted. A
// refusal of the whole batch (409, 429) accepts none.
func putFlags(ctx context.Context, client *http.Client, url, token string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, url, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("X-Team-Token", token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return bytes.Count(b, []byte(`"code":"OK"`)), nil
	case http.StatusConflict, http.StatusTooManyRequests:
		return 0, nil
	}
	return 0, fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(b))
}
