// Package control moves an exercise's game phase from outside the server
// that runs it (`cyrange game`): through the organizer's API of a server
// that answers, found by its URL or by the server.json it leaves in its
// data directory, or, when no server holds the directory, directly in the
// directory's event log.
//
// It may import the scoreboard root package, the scenarios and the
// packages that open a data directory (datadir, exercisedb); it must never import echo, the web
// or live packages, bbolt or the Docker SDK: it speaks to a server only
// over HTTP.
package control

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/cyrange/cyrange/scenarios"
	"github.com/cyrange/cyrange/scoreboard"
	"github.com/cyrange/cyrange/scoreboard/datadir"
	"github.com/cyrange/cyrange/scoreboard/exercisedb"
)

// Time bounds of the calls to a server: a health probe answers at once
// or the server is taken for absent; a phase change waits for the log.
const (
	probeTimeout = time.Second
	phaseTimeout = 10 * time.Second
	// findTries is how many probes Find makes: a server that just
	// started may take a moment to answer.
	findTries = 5
	// maxReply bounds what is read of a server's reply.
	maxReply = 1 << 16
)

// Client calls a running server's organizer API.
type Client struct {
	// URL is the server's base URL, e.g. http://127.0.0.1:8080.
	URL string
	// Token is the organizer's token.
	Token string
	// HTTP makes the requests; nil means http.DefaultClient.
	HTTP *http.Client
}

func (c *Client) http() *http.Client {
	if c.HTTP == nil {
		return http.DefaultClient
	}
	return c.HTTP
}

// Reachable reports whether the server answers its health check.
func (c *Client) Reachable(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(c.URL, "/")+"/healthz", nil)
	if err != nil {
		return false
	}
	resp, err := c.http().Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// SetPhase asks the server to take action (scoreboard.ActStart...) and
// returns the phase it is in then. A refusal carries the server's reason.
func (c *Client) SetPhase(ctx context.Context, action string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, phaseTimeout)
	defer cancel()
	body, _ := json.Marshal(map[string]string{"action": action})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.URL, "/")+"/api/v1/admin/phase",
		bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("control: bad server URL %q: %w", c.URL, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.Token)
	resp, err := c.http().Do(req)
	if err != nil {
		return "", fmt.Errorf("control: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxReply))
	var out struct {
		Phase string `json:"phase"`
		Error string `json:"error"`
	}
	_ = json.Unmarshal(b, &out)
	if resp.StatusCode != http.StatusOK {
		if out.Error == "" {
			out.Error = strings.TrimSpace(string(b))
		}
		return "", fmt.Errorf("control: server refused (%s): %s", resp.Status, out.Error)
	}
	return out.Phase, nil
}

// Find returns the base URL of the server running the exercise in dir,
// if it left its address there and answers at it.
func Find(ctx context.Context, dir string, hc *http.Client) (string, bool) {
	si, ok := datadir.ReadServerInfo(dir)
	if !ok {
		return "", false
	}
	c := Client{URL: "http://" + si.HTTP, HTTP: hc}
	for range findTries {
		if c.Reachable(ctx) {
			return c.URL, true
		}
	}
	return "", false
}

// ActOffline takes action directly in the log of the exercise in dir,
// which no server may hold: it locks the directory first, so that a server
// starting meanwhile waits for it or is refused. It returns the phase the
// game is in then and whether the board is frozen.
func ActOffline(ctx context.Context, dir, action string, logger *slog.Logger) (scoreboard.Phase, bool, error) {
	if _, err := os.Stat(dir); err != nil {
		return 0, false, fmt.Errorf("control: no exercise in %s: %w", dir, err)
	}
	lock, err := datadir.Acquire(dir)
	if err != nil {
		return 0, false, err
	}
	defer lock.Release()
	d, err := exercisedb.Open(ctx, dir, exercisedb.Options{Logger: logger})
	if err != nil {
		return 0, false, err
	}
	defer d.Close()
	g, err := scoreboard.NewGame(ctx, scoreboard.Options{Config: d.GameConfig(scenarios.Placement{}), Log: d.Log(),
		Key: d.Key(), Logger: logger})
	if err != nil {
		return 0, false, err
	}
	if err := g.Act(ctx, action); err != nil {
		return 0, false, err
	}
	p, frozen := g.Phase()
	return p, frozen, nil
}
