// Package probe is the connectivity test run inside the range's containers
// (`cyrange probe`, in an image that holds nothing but the cyrange
// binary): the Docker driver runs Ready in a started target to know it
// serves, and the isolation tests run Dial and Listen on either side of a
// network boundary to see what reaches what. Run parses the role's
// command line, as the other roles' packages parse theirs.
//
// What it prints is read by those tests and by people at a shell in a
// container, so each outcome is one plain line. It imports nothing but
// the standard library: it must stay small enough to run anywhere.
package probe

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"
)

// Usage is the synopsis of Run's command line.
const Usage = "usage: cyrange probe tcp|unix ADDR [--timeout 2s] | cyrange probe listen ADDR... | cyrange probe ready ADDR... [--timeout 30s]"

// UsageError is a mistake on Run's command line. Run returns flag.ErrHelp
// itself when asked for help.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Run is the probe role, `cyrange probe`, with args the words after
// "probe"; w takes what the probe says and stderr the flags' complaints
// and help:
//
//	tcp ADDR [--timeout 2s]     connect (Dial); prints the first line the
//	                            peer sends
//	unix PATH [--timeout 2s]    the same for a unix socket (the Docker
//	                            socket must be out of reach)
//	listen ADDR...              Listen: answer every connection with the
//	                            address it came from, then close
//	ready ADDR... [--timeout 30s]
//	                            Ready: return once something accepts
//	                            connections at every ADDR (the range runs
//	                            it in a started target, to know it serves)
//
// Flags may follow the addresses. It returns a *UsageError for a mistake
// on the command line, and fails when the probe does (no connection, not
// ready in time).
func Run(ctx context.Context, args []string, w, stderr io.Writer) error {
	if len(args) == 0 {
		return &UsageError{Usage}
	}
	switch args[0] {
	case "tcp", "unix":
		fs := flagSet("probe "+args[0], stderr)
		timeout := fs.Duration("timeout", 2*time.Second, "how long to try to connect, and to wait for a line")
		pos, err := parsePositional(fs, args[1:])
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return &UsageError{Usage}
		}
		return Dial(ctx, w, args[0], pos[0], *timeout)
	case "listen":
		if len(args) < 2 {
			return &UsageError{Usage}
		}
		return Listen(ctx, w, args[1:])
	case "ready":
		fs := flagSet("probe ready", stderr)
		timeout := fs.Duration("timeout", 30*time.Second, "how long to wait for every address")
		pos, err := parsePositional(fs, args[1:])
		if err != nil {
			return err
		}
		if len(pos) == 0 {
			return &UsageError{Usage}
		}
		return Ready(ctx, w, pos, *timeout)
	}
	return &UsageError{Usage}
}

// flagSet is a flag set that complains to stderr and returns its errors,
// named as cyrange names its commands' flag sets.
func flagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("cyrange "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parsePositional parses flags that may come before or after the
// positional arguments and returns the positional ones.
func parsePositional(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &UsageError{err.Error()}
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// Dial connects to addr over network ("tcp" or "unix") within timeout,
// says from where to w, and passes on the first line the peer sends
// within timeout, if any. It fails if no connection is made.
func Dial(ctx context.Context, w io.Writer, network, addr string, timeout time.Duration) error {
	dctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var dialer net.Dialer
	c, err := dialer.DialContext(dctx, network, addr)
	if err != nil {
		return fmt.Errorf("no connection to %s: %w", addr, err)
	}
	defer c.Close()
	fmt.Fprintf(w, "connected to %s from %s\n", c.RemoteAddr(), c.LocalAddr())
	c.SetReadDeadline(time.Now().Add(timeout))
	if line, err := bufio.NewReader(c).ReadString('\n'); err == nil || line != "" {
		fmt.Fprintf(w, "received %s\n", strings.TrimSpace(line))
	}
	return nil
}

// Ready waits until every address accepts a TCP connection, saying so to
// w for each, and fails with the first one that does not within timeout.
func Ready(ctx context.Context, w io.Writer, addrs []string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for _, a := range addrs {
		if err := DialUntil(ctx, a, 20*time.Millisecond); err != nil {
			return fmt.Errorf("nothing listens on %s: %w", a, err)
		}
		fmt.Fprintf(w, "ready: %s\n", a)
	}
	return nil
}

// DialUntil tries a TCP connection to addr every pause until one succeeds
// or ctx ends, when it returns the last failure.
func DialUntil(ctx context.Context, addr string, pause time.Duration) error {
	for {
		var dialer net.Dialer
		c, err := dialer.DialContext(ctx, "tcp", addr)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
	}
}

// Listen listens on every TCP address until ctx ends, and answers each
// connection with the address it came from, then closes it; it logs every
// listener and connection to w. It fails only if it cannot listen.
func Listen(ctx context.Context, w io.Writer, addrs []string) error {
	var lc net.ListenConfig
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for _, a := range addrs {
		l, err := lc.Listen(ctx, "tcp", a)
		if err != nil {
			return err
		}
		ls = append(ls, l)
		fmt.Fprintf(w, "listening on %s\n", l.Addr())
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, l := range ls {
		wg.Go(func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				mu.Lock()
				fmt.Fprintf(w, "connection from %s to %s\n", c.RemoteAddr(), c.LocalAddr())
				mu.Unlock()
				c.SetWriteDeadline(time.Now().Add(2 * time.Second))
				fmt.Fprintf(c, "%s\n", c.RemoteAddr())
				c.Close()
			}
		})
	}
	<-ctx.Done()
	for _, l := range ls {
		l.Close()
	}
	wg.Wait()
	return nil
}
