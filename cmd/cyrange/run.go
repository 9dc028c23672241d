package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cyrange/cyrange/scenarios"
	"github.com/cyrange/cyrange/scoreboard/checks"
	"github.com/cyrange/cyrange/scoreboard/tokens"
)

func runExercise(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "run")
	driver := fs.String("driver", "none", "where the targets run: none (managed elsewhere), local or docker")
	data := fs.String("data", "", "data directory (default ./cyrange-data/SCENARIO)")
	httpAddr := fs.String("http", "127.0.0.1:8080", "web and API address")
	submitAddr := fs.String("submit", "127.0.0.1:31337", "TCP flag submission address")
	targetHost := fs.String("target-host", "127.0.0.1", "with --driver none: the host where every replica runs")
	down := fs.Bool("down", false, "take the range down when the exercise stops")
	verbose := fs.Bool("v", false, "log debug messages")
	pos, err := parsePositional(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("usage: cyrange run SCENARIO [flags] (SCENARIO: a file or one of %s)", strings.Join(scenarios.Builtins(), ", "))
	}
	sc, err := scenarios.Open(pos[0])
	if err != nil {
		return err
	}
	switch *driver {
	case "none":
	case "local", "docker":
		return fmt.Errorf("driver %q: this build runs exercises only with --driver none (targets managed elsewhere)", *driver)
	default:
		return usagef("--driver must be none, local or docker, not %q", *driver)
	}
	_ = down
	if *data == "" {
		*data = filepath.Join("cyrange-data", sc.Name)
	}
	logger := newLogger(e.stderr, *verbose)
	placement := scenarios.Placement{ReplicaAddress: func(int, int) string { return *targetHost }}
	chk, err := checkersFor(sc, logger)
	if err != nil {
		return err
	}
	x, err := newExercise(ctx, exerciseOptions{Scenario: sc, DataDir: *data, HTTPAddr: *httpAddr,
		SubmitAddr: *submitAddr, Placement: placement, Checkers: chk, Logger: logger})
	if err != nil {
		return err
	}
	defer x.Close()
	printWhere(e.stdout, x, *data)
	return x.Run(ctx)
}

// parsePositional parses flags that may come before or after the
// positional arguments (cyrange run SCENARIO --data DIR) and returns the
// positional ones.
func parsePositional(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parse(fs, args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// checkersFor builds the checker of every service: a built-in one run in
// this process, or a remote enochecker v2 checker over HTTP.
func checkersFor(sc *scenarios.Scenario, logger *slog.Logger) (map[int]checks.Checker, error) {
	out := map[int]checks.Checker{}
	for i, svc := range sc.Services {
		if name, ok := svc.IsBuiltinChecker(); ok {
			mk, ok := builtinCheckers()[name]
			if !ok {
				return nil, fmt.Errorf("service %q: no built-in checker %q in this build", svc.Name, name)
			}
			c, err := mk(svc, logger)
			if err != nil {
				return nil, fmt.Errorf("service %q: checker: %w", svc.Name, err)
			}
			out[i] = checks.InProcess(c)
			continue
		}
		out[i] = checks.NewClient(svc.Checker, &http.Client{})
	}
	return out, nil
}

func newLogger(w io.Writer, verbose bool) *slog.Logger {
	lvl := slog.LevelInfo
	if verbose {
		lvl = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lvl}))
}

// printWhere tells the organizer where everything is.
func printWhere(w io.Writer, x *exercise, dataDir string) {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		abs = dataDir
	}
	sc := x.data.scenario
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "cyrange: exercise %q (%s)\n", sc.Name, sc.Title)
	fmt.Fprintf(tw, "  scoreboard\thttp://%s/\n", x.HTTPAddr())
	fmt.Fprintf(tw, "  API\thttp://%s/api/v1/\n", x.HTTPAddr())
	fmt.Fprintf(tw, "  live stream\tws://%s/api/v1/live\n", x.HTTPAddr())
	fmt.Fprintf(tw, "  flag submission (TCP)\t%s\n", x.SubmitAddr())
	fmt.Fprintf(tw, "  flag submission (HTTP)\tPUT http://%s/flags\n", x.HTTPAddr())
	fmt.Fprintf(tw, "  team tokens\t%s\n", filepath.Join(abs, tokens.FileName))
	fmt.Fprintf(tw, "  event log\t%s\n", filepath.Join(abs, dbFile))
	p, frozen := x.game.Phase()
	fmt.Fprintf(tw, "  phase\t%s%s\n", p, map[bool]string{true: " (board frozen)"}[frozen])
	tw.Flush()
	if p.String() == "setup" {
		fmt.Fprintf(w, "\nStart the game with: cyrange game start --data %s\n", dataDir)
	}
	fmt.Fprintln(w)
}

// tempDataDir makes a fresh data directory for a throwaway exercise.
func tempDataDir(prefix string) (string, error) {
	return os.MkdirTemp("", prefix+"-"+time.Now().Format("20060102-150405")+"-")
}
