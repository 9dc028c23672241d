package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"

	"github.com/cyrange/cyrange/scenarios"
	"github.com/cyrange/cyrange/scoreboard"
	"github.com/cyrange/cyrange/scoreboard/exercisedb"
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
	cfg := d.GameConfig(scenarios.Placement{})
	full, err := scoreboard.Replay(ctx, cfg, d.Log(), 0)
	if err != nil {
		return err
	}
	checked, mismatch, err := scoreboard.VerifySnapshot(ctx, cfg, d.Log())
	if err != nil {
		return err
	}
	// Every detection verdict is judged again at its place in the log.
	verdicts, verr := scoreboard.VerifyJudgements(ctx, cfg, d.Log())
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(map[string]any{"events": full.LastSeq, "verifiedUpTo": checked,
			"match": mismatch == "" && verr == nil, "verdictsVerified": verdicts, "standings": full.Standings()}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(e.stdout, "replayed %d events of exercise %q\n\n", full.LastSeq, d.Scenario().Name)
		printStandings(e.stdout, full.Standings())
		if checked > 0 && mismatch == "" {
			fmt.Fprintf(e.stdout, "\nstored standings (as of event %d) match the replay\n", checked)
		}
		if verdicts > 0 && verr == nil {
			fmt.Fprintf(e.stdout, "%d detection verdicts judged again: all as logged\n", verdicts)
		}
	}
	if mismatch != "" {
		return fmt.Errorf("stored standings differ from the replay: %s", mismatch)
	}
	if verr != nil {
		return fmt.Errorf("a detection verdict differs from the rules: %w", verr)
	}
	return nil
}

func printStandings(w io.Writer, st []scoreboard.Standing) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "rank\tteam\trole\ttotal\tattack\tavailability\tprotected\tlost\tdetections\tcaptures\ttrue/false/missed\t")
	for _, s := range st {
		det := ""
		if s.Role.Defends() {
			det = fmt.Sprintf("%d/%d/%d", s.DetectionsTrue, s.DetectionsFalse, s.DetectionsMissed)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%d\t%s\t\n", s.Rank, s.Team, s.Role, s.Total,
			s.Attack, s.SLA, s.Protected, s.Lost, s.Detection, s.Captures, det)
	}
	tw.Flush()
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
