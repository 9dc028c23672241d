package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/cyrange/cyrange/scenarios"
	"github.com/cyrange/cyrange/scoreboard"
	"github.com/cyrange/cyrange/scoreboard/datadir"
	"github.com/cyrange/cyrange/scoreboard/exercisedb"
	"github.com/cyrange/cyrange/scoreboard/ingest"
	"github.com/cyrange/cyrange/scoreboard/navigator"
	"github.com/cyrange/cyrange/scoreboard/report"
)

// runReport writes the after-action report of an exercise: a
// self-contained HTML page (or the same as JSON) folded from its event
// log. The log is locked while the exercise runs, so it is written after.
// With --navigator it also writes the technique tables as an ATT&CK
// Navigator layer file.
func runReport(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "report")
	data := fs.String("data", "", "the exercise's data directory (required)")
	out := fs.String("out", "", "file to write (default DIR/report.html, or DIR/report.json with --json; - for standard output)")
	asJSON := fs.Bool("json", false, "write the report as JSON instead of HTML")
	navFile := fs.String("navigator", "", "also write an ATT&CK Navigator layer (format 4.5) of the techniques used against each defence team, detected and missed, to FILE (- for standard output)")
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
	aa, err := scoreboard.BuildAfterAction(ctx, d.GameConfig(scenarios.Placement{}), d.Log())
	if err != nil {
		return err
	}
	aa.AttributeTechniques(ingest.Exposure(d.Scenario(), targets()))
	if *navFile != "" {
		writeLayers := func(w io.Writer) error { return navigator.Write(w, navigator.Layers(aa)) }
		if *navFile == "-" {
			err = writeLayers(e.stdout)
		} else if err = datadir.WriteFile(*navFile, writeLayers); err == nil {
			fmt.Fprintf(e.stdout, "wrote %s: ATT&CK Navigator layer of %d defence team(s)\n", *navFile, len(aa.TechniqueTables))
		}
		if err != nil {
			return err
		}
	}
	path := *out
	if path == "" {
		path = filepath.Join(*data, "report.html")
		if *asJSON {
			path = filepath.Join(*data, "report.json")
		}
	}
	write := func(w io.Writer) error {
		if *asJSON {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(aa)
		}
		return report.WriteHTML(w, aa, time.Now())
	}
	if path == "-" {
		return write(e.stdout)
	}
	if err := datadir.WriteFile(path, write); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "wrote %s: %d events, %d incidents (%d detected), %d reports, %d captures, %d remedies\n",
		path, aa.Events, len(aa.Incidents), aa.DetectedIncidents(), len(aa.Reports), len(aa.Captures), len(aa.Remedies))
	if len(aa.Mismatches) > 0 {
		return fmt.Errorf("%d detection verdicts differ from the rules (listed in the report)", len(aa.Mismatches))
	}
	return nil
}
