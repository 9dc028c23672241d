package taskrun

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"

	"github.com/cyrange/cyrange/scoreboard/checks"
)

// ErrInternal marks a failure of the checker itself (a task it cannot
// run): the runner records it as INTERNAL_ERROR and blames nobody.
var ErrInternal = errors.New("checker")

// verdict is a task's outcome other than OK, with a message for the
// scoreboard. Messages never contain a flag.
type verdict struct {
	result checks.Result
	msg    string
}

func (v *verdict) Error() string { return string(v.result) + ": " + v.msg }

// Mumble is the verdict on a service that answered, but wrongly.
func Mumble(format string, args ...any) error {
	return &verdict{result: checks.Mumble, msg: fmt.Sprintf(format, args...)}
}

// Failed turns an error of step into a verdict: the error itself when it
// is one, OFFLINE when the service cannot be reached or does not answer in
// time, MUMBLE when it answers wrongly. A nil error stays nil.
func Failed(step string, err error) error {
	return FailedAs(step, err, nil)
}

// FailedAs is Failed for a target whose client tells its wrong answers
// apart: wrong names the answer err stands for in the verdict's message
// (a refused login, a missing page, a status), or returns "" for one it
// has no name for. A nil wrong names none.
func FailedAs(step string, err error, wrong func(error) string) error {
	if err == nil {
		return nil
	}
	var v *verdict
	if errors.As(err, &v) {
		return err
	}
	if unreachable(err) {
		return &verdict{result: checks.Offline, msg: step + ": service unreachable"}
	}
	if wrong != nil {
		if name := wrong(err); name != "" {
			return &verdict{result: checks.Mumble, msg: step + ": " + name}
		}
	}
	return &verdict{result: checks.Mumble, msg: step + ": unexpected answer"}
}

// unreachable reports whether err says the service could not be reached,
// or went quiet, rather than answered: the game counts that as OFFLINE.
func unreachable(err error) bool {
	var opErr *net.OpError
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return true
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return true
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return true
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Store returns the flag store of t's variant; stores are the target's,
// in variant order.
func Store(t checks.Task, stores []string) (string, error) {
	if t.VariantID < 0 || t.VariantID >= len(stores) {
		return "", fmt.Errorf("%w: no flag store %d", ErrInternal, t.VariantID)
	}
	return stores[t.VariantID], nil
}

// Flag returns t's flag; a flag task without one is the engine's mistake.
func Flag(t checks.Task) (string, error) {
	if t.Flag == nil || *t.Flag == "" {
		return "", fmt.Errorf("%w: %s without a flag", ErrInternal, t.Method)
	}
	return *t.Flag, nil
}
