// Command cyrange is the cyber exercise range: one static binary whose
// subcommands stand up a range, run the exercise, serve the scoreboard,
// and play the roles inside the range's containers.
//
// This package parses flags and wires packages together; the logic lives
// in those packages.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// usageError is a mistake on the command line: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// env is what a command may touch of the outside world.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
}

type command struct {
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

func commands() map[string]command {
	return map[string]command{
		"demo":     {"run the embedded demo exercise on this machine, with bot teams", runDemo},
		"run":      {"run an exercise from a scenario: game server, checkers, submission, web", runExercise},
		"game":     {"move the game's phase: start, pause, resume, freeze, end", runGameCmd},
		"replay":   {"recompute the standings from the event log and compare them", runReplay},
		"export":   {"write the results: ctftime, json or csv", runExport},
		"report":   {"write the after-action report: HTML with inline charts, or --json", runReport},
		"bench":    {"load generators: bench submit, bench live, bench replay", runBench},
		"target":   {"run a target role (inside a container or as a local process)", runTarget},
		"checker":  {"run a checker role over the enochecker v2 protocol", runChecker},
		"gateway":  {"run an attack team's SOCKS5 gateway role (telemetry as JSON lines on stdout)", runGateway},
		"rehearse": {"pre-flight check of a scenario on a scratch range: rehearse SCENARIO [--driver local|docker] [--json] [--keep]", runRehearse},
		"console":  {"inside the range: console remedy --target NAME --url URL WEAKNESS, a remedy in a target's admin console", runConsole},
		"range":    {"the range alone: range up, range down, range status SCENARIO", runRange},
		"images":   {"build the range's images into the local Docker engine: images build [--attackbox]", runImages},
		"probe":    {"test helper inside range containers: probe tcp ADDR (exit 0 if it connects), probe listen ADDR...", runProbe},
		"version": {"print the version", func(_ context.Context, e *env, _ []string) error {
			fmt.Fprintln(e.stdout, "cyrange", version)
			return nil
		}},
	}
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(Main(ctx, os.Args[1:], &env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv}))
}

// Main runs one command line and returns the exit status: 0 on success, 2
// for a usage error, 1 otherwise, with the reason on standard error.
func Main(ctx context.Context, args []string, e *env) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(e.stderr, cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "cyrange: unknown command %q\n", args[0])
		printUsage(e.stderr, cmds)
		return 2
	}
	err := c.run(ctx, e, args[1:])
	var ue *usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(e.stderr, "cyrange %s: %s\n", args[0], ue.msg)
		return 2
	default:
		fmt.Fprintf(e.stderr, "cyrange %s: %v\n", args[0], err)
		return 1
	}
}

func printUsage(w io.Writer, cmds map[string]command) {
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("usage: cyrange COMMAND [flags]\n\ncommands:\n")
	for _, n := range names {
		fmt.Fprintf(&b, "  %-8s %s\n", n, cmds[n].summary)
	}
	b.WriteString("\nRun 'cyrange COMMAND -h' for a command's flags.\n")
	io.WriteString(w, b.String())
}

// newFlagSet returns a flag set that reports errors instead of exiting.
func newFlagSet(e *env, name string) *flag.FlagSet {
	fs := flag.NewFlagSet("cyrange "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	return fs
}

// parse parses args, turning flag errors into usage errors.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usagef("%v", err)
	}
	return nil
}
