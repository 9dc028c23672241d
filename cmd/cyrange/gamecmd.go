package main

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
	"github.com/cyrange/cyrange/scoreboard/tokens"
)

// runGameCmd moves the game's phase: through a running server's API when
// one is reachable (by --url, or found through <data>/server.json), or
// directly in the data directory's log when no server holds it.
func runGameCmd(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 {
		return usagef("usage: cyrange game start|pause|resume|freeze|end (--data DIR | --url URL --token T)")
	}
	action := args[0]
	switch action {
	case scoreboard.ActStart, scoreboard.ActPause, scoreboard.ActResume, scoreboard.ActFreeze, scoreboard.ActEnd:
	default:
		return usagef("unknown action %q: want start, pause, resume, freeze or end", action)
	}
	fs := newFlagSet(e, "game "+action)
	data := fs.String("data", "", "the exercise's data directory")
	url := fs.String("url", "", "a running server's base URL, e.g. http://127.0.0.1:8080")
	token := fs.String("token", "", "the organizer token (with --url; default from <data>/tokens.json)")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if *data == "" && *url == "" {
		return usagef("give --data DIR or --url URL")
	}
	if *url == "" {
		if si, ok := readServerInfo(*data); ok {
			// A server that just started may take a moment to answer.
			for i := 0; i < 5 && *url == ""; i++ {
				if reachable(ctx, "http://"+si.HTTP) {
					*url = "http://" + si.HTTP
				}
			}
		}
	}
	if *url != "" {
		if *token == "" && *data != "" {
			f, err := readTokensFile(*data)
			if err != nil {
				return err
			}
			*token = f.Organizer
		}
		if *token == "" {
			return usagef("--token is required with --url")
		}
		phase, err := postPhase(ctx, *url, *token, action)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "game %s: now %s\n", action, phase)
		return nil
	}
	if _, err := os.Stat(*data); err != nil {
		return fmt.Errorf("no exercise in %s: %w", *data, err)
	}
	lock, err := datadir.Acquire(*data)
	if err != nil {
		return err
	}
	defer lock.Release()
	d, err := openData(ctx, *data, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer d.Close()
	g, err := scoreboard.NewGame(ctx, scoreboard.Options{Config: d.gameConfig(scenarios.Placement{}), Log: d.log, Key: d.key})
	if err != nil {
		return err
	}
	if err := g.Act(ctx, action); err != nil {
		return err
	}
	p, frozen := g.Phase()
	fmt.Fprintf(e.stdout, "game %s: now %s%s\n", action, p, map[bool]string{true: " (board frozen)"}[frozen])
	return nil
}

func reachable(ctx context.Context, base string) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/healthz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func postPhase(ctx context.Context, base, token, action string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	body, _ := json.Marshal(map[string]string{"action": action})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(base, "/")+"/api/v1/admin/phase", bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("bad --url: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	var out struct {
		Phase string `json:"phase"`
		Error string `json:"error"`
	}
	_ = json.Unmarshal(b, &out)
	if resp.StatusCode != http.StatusOK {
		if out.Error == "" {
			out.Error = strings.TrimSpace(string(b))
		}
		return "", fmt.Errorf("server refused (%s): %s", resp.Status, out.Error)
	}
	return out.Phase, nil
}

func readTokensFile(dir string) (tokens.File, error) {
	var f tokens.File
	b, err := readFileLimited(dir, tokens.FileName)
	if err != nil {
		return f, err
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return f, fmt.Errorf("%s/%s: %w", dir, tokens.FileName, err)
	}
	return f, nil
}
