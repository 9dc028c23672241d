package local

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// roleEnv, when set, makes the test binary play a fake range role instead
// of running the tests: the driver's tests start it as their containers.
const roleEnv = "CYRANGE_LOCAL_TEST_ROLE"

func TestMain(m *testing.M) {
	if os.Getenv(roleEnv) != "" {
		os.Exit(fakeRole(os.Args[1:]))
	}
	if spec := os.Getenv(crashEnv); spec != "" {
		os.Exit(crashMidStart(spec))
	}
	goleak.VerifyTestMain(m)
}

// fakeRole is a target that greets each connection with where it came
// from, and logs what it does on stdout.
//
//	fake --listen ADDR [--ignore-term] [--exit-after D]
func fakeRole(args []string) int {
	if len(args) > 0 && args[0] == "say" {
		return fakeCommand(args[1:])
	}
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		args = args[1:]
	}
	fs := flag.NewFlagSet("fake", flag.ContinueOnError)
	listen := fs.String("listen", "", "address to serve on")
	ignoreTerm := fs.Bool("ignore-term", false, "survive SIGTERM")
	exitAfter := fs.Duration("exit-after", 0, "exit with status 3 after this long")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	env := os.Environ()
	sort.Strings(env)
	fmt.Printf("env: %s\n", strings.Join(env, " "))
	term := make(chan os.Signal, 1)
	if *ignoreTerm {
		signal.Ignore(syscall.SIGTERM)
	} else {
		signal.Notify(term, syscall.SIGTERM)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Println("listen:", err)
		return 1
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "hello from %s to %s\n", ln.Addr(), c.RemoteAddr())
			fmt.Printf("served %s\n", c.RemoteAddr())
			c.Close()
		}
	}()
	var exit <-chan time.Time
	if *exitAfter > 0 {
		exit = time.After(*exitAfter)
	}
	select {
	case <-term:
		fmt.Println("terminated")
		return 0
	case <-exit:
		return 3
	}
}

// fakeCommand is a command run in a container (Exec): it prints its
// environment and its last words on stdout and stderr, and exits.
//
//	say [--exit N] [--sleep D] [--last WORDS]
func fakeCommand(args []string) int {
	fs := flag.NewFlagSet("say", flag.ContinueOnError)
	code := fs.Int("exit", 0, "exit status")
	sleep := fs.Duration("sleep", 0, "wait this long first")
	last := fs.String("last", "done", "the last line, on stderr")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	env := os.Environ()
	sort.Strings(env)
	fmt.Printf("env: %s\n", strings.Join(env, " "))
	time.Sleep(*sleep)
	fmt.Fprintln(os.Stderr, *last)
	return *code
}
