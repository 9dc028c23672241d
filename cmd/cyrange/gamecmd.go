package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/cyrange/cyrange/scoreboard"
	"github.com/cyrange/cyrange/scoreboard/control"
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
		*url, _ = control.Find(ctx, *data, nil)
	}
	if *url != "" {
		return gameThroughServer(ctx, e, action, *url, *token, *data)
	}
	p, frozen, err := control.ActOffline(ctx, *data, action, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "game %s: now %s%s\n", action, p, map[bool]string{true: " (board frozen)"}[frozen])
	return nil
}

// gameThroughServer takes action through the server at url, with the
// organizer's token given or read from data.
func gameThroughServer(ctx context.Context, e *env, action, url, token, data string) error {
	if token == "" && data != "" {
		f, err := tokens.ReadFile(data)
		if err != nil {
			return err
		}
		token = f.Organizer
	}
	if token == "" {
		return usagef("--token is required with --url")
	}
	c := control.Client{URL: url, Token: token}
	phase, err := c.SetPhase(ctx, action)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "game %s: now %s\n", action, phase)
	return nil
}
