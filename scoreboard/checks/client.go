package checks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

const (
	// maxReplyBody bounds a checker's reply: a result is a few hundred
	// bytes, so a megabyte is already a broken or hostile checker.
	maxReplyBody = 1 << 20
	// defaultInfoTimeout bounds GET /service when the caller set no
	// deadline.
	defaultInfoTimeout = 10 * time.Second
	// defaultTaskTimeout bounds a task that carries no timeout of its own.
	defaultTaskTimeout = time.Minute
)

// Client drives a remote checker over HTTP with the enochecker API v2.
type Client struct {
	base  string
	hc    *http.Client
	token string // sent as a bearer token when set (WithToken)
}

var _ Checker = (*Client)(nil)

// NewClient returns a client for the checker at baseURL (scheme, host and
// optional path prefix; GET baseURL/service and POST baseURL/ are used). A
// nil hc means a client of its own with default settings.
func NewClient(baseURL string, hc *http.Client, opts ...ClientOption) *Client {
	if hc == nil {
		hc = &http.Client{}
	}
	c := &Client{base: strings.TrimRight(baseURL, "/"), hc: hc}
	for _, o := range opts {
		o(c)
	}
	return c
}

// Info asks the checker what it checks. Any failure is an error.
func (c *Client) Info(ctx context.Context) (ServiceInfo, error) {
	var info ServiceInfo
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultInfoTimeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/service", nil)
	if err != nil {
		return info, fmt.Errorf("checks: service info from %s: %w", c.base, err)
	}
	body, err := c.do(req)
	if err != nil {
		return info, fmt.Errorf("checks: service info from %s: %w", c.base, err)
	}
	if info, err = decodeInfo(body); err != nil {
		return info, fmt.Errorf("checks: service info from %s: %w", c.base, err)
	}
	return info, nil
}

// Run sends t and returns the checker's verdict. The request is bounded by
// t.Timeout (a minute when it has none); a checker that does not answer
// within it yields OFFLINE and no error (see the package doc). A transport
// failure, a status other than 200 or a reply that is not a result is an
// error.
func (c *Client) Run(ctx context.Context, t Task) (TaskResult, error) {
	d := defaultTaskTimeout
	if t.Timeout > 0 {
		d = millis(t.Timeout)
	}
	tctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	what := fmt.Sprintf("%s %s at %s", t.Method, t.TaskChainID, c.base)
	body, err := json.Marshal(t)
	if err != nil {
		return TaskResult{}, fmt.Errorf("checks: %s: encoding task: %w", what, err)
	}
	req, err := http.NewRequestWithContext(tctx, http.MethodPost, c.base+"/", bytes.NewReader(body))
	if err != nil {
		return TaskResult{}, fmt.Errorf("checks: %s: %w", what, err)
	}
	req.Header.Set("Content-Type", "application/json")
	reply, err := c.do(req)
	if err != nil {
		if errors.Is(tctx.Err(), context.DeadlineExceeded) {
			return TaskResult{Result: Offline, Message: Str(msgTimeout)}, nil
		}
		return TaskResult{}, fmt.Errorf("checks: %s: %w", what, err)
	}
	res, err := decodeResult(reply)
	if err != nil {
		return TaskResult{}, fmt.Errorf("checks: %s: %w", what, err)
	}
	return res, nil
}

// do sends req and returns the body of a 200 reply.
func (c *Client) do(req *http.Request) ([]byte, error) {
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxReplyBody+1))
	if err != nil {
		return nil, fmt.Errorf("reading reply: %w", err)
	}
	if len(body) > maxReplyBody {
		return nil, fmt.Errorf("reply larger than %d bytes", maxReplyBody)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d: %q", resp.StatusCode, snippet(body))
	}
	return body, nil
}

func snippet(b []byte) string {
	const n = 200
	if len(b) > n {
		b = b[:n]
	}
	return strings.TrimSpace(string(b))
}

// decodeResult parses a checker's reply to a task.
func decodeResult(body []byte) (TaskResult, error) {
	var res TaskResult
	if err := json.Unmarshal(body, &res); err != nil {
		return TaskResult{}, fmt.Errorf("undecodable result: %w", err)
	}
	if !res.Result.Valid() {
		return TaskResult{}, fmt.Errorf("unknown result %q", res.Result)
	}
	return res, nil
}

// decodeInfo parses a checker's reply to GET /service.
func decodeInfo(body []byte) (ServiceInfo, error) {
	var info ServiceInfo
	if err := json.Unmarshal(body, &info); err != nil {
		return ServiceInfo{}, fmt.Errorf("undecodable service info: %w", err)
	}
	if err := info.validate(); err != nil {
		return ServiceInfo{}, err
	}
	return info, nil
}
