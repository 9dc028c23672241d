package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/cyrange/cyrange/scenarios"
	"github.com/cyrange/cyrange/scoreboard"
	"github.com/cyrange/cyrange/scoreboard/exercisedb"
	"github.com/cyrange/cyrange/scoreboard/report"
)

func runReplay(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "replay")
	data := fs.String("data", "", "the exercise's data directory (required)")
	asJSON := fs.Bool("json", false, "print the standings as JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *data == "" {
		return usagef("--data DIR is required")
	}
	d, err := exercisedb.Open(ctx, *data, exercisedb.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer d.Close()
	a, err := scoreboard.AuditLog(ctx, d.GameConfig(scenarios.Placement{}), d.Log())
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(map[string]any{"events": a.Events, "verifiedUpTo": a.VerifiedUpTo,
			"match": a.OK(), "verdictsVerified": a.Verdicts, "standings": a.Standings}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(e.stdout, "replayed %d events of exercise %q\n\n", a.Events, d.Scenario().Name)
		report.WriteStandings(e.stdout, a.Standings)
		if a.VerifiedUpTo > 0 && a.Mismatch == "" {
			fmt.Fprintf(e.stdout, "\nstored standings (as of event %d) match the replay\n", a.VerifiedUpTo)
		}
		if a.Verdicts > 0 && a.VerdictErr == nil {
			fmt.Fprintf(e.stdout, "%d detection verdicts judged again: all as logged\n", a.Verdicts)
		}
	}
	if a.Mismatch != "" {
		return fmt.Errorf("stored standings differ from the replay: %s", a.Mismatch)
	}
	if a.VerdictErr != nil {
		return fmt.Errorf("a detection verdict differs from the rules: %w", a.VerdictErr)
	}
	return nil
}

func runExport(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "export")
	data := fs.String("data", "", "the exercise's data directory (required)")
	format := fs.String("format", "json", "ctftime, json or csv")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *data == "" {
		return usagef("--data DIR is required")
	}
	if *format != "ctftime" && *format != "json" && *format != "csv" {
		return usagef("--format must be ctftime, json or csv, not %q", *format)
	}
	d, err := exercisedb.Open(ctx, *data, exercisedb.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer d.Close()
	st, err := scoreboard.Restore(ctx, d.GameConfig(scenarios.Placement{}), d.Log())
	if err != nil {
		return err
	}
	return scoreboard.WriteExport(e.stdout, *format, d.Scenario().Name, st.Standings())
}
