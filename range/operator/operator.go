// Package operator does to a running range's replicas what the
// organizer's side may do from outside them: read the password a target
// made up for its admin console's operator, and apply a weakness's remedy
// in that console from inside the range (the console lets only the
// replica's own network and the checkers in), through the driver.
//
// It knows targets only through the target interface (images/target), and
// reaches containers only through the driver (range), so that it works on
// every driver that can run a command inside a container.
package operator

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/cyrange/cyrange/images/target"
	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/scenarios"
)

// EnvPassword carries the console operator's password to `cyrange
// console`, never on its command line, where any process could read it.
const EnvPassword = "CYRANGE_ADMIN_PASSWORD"

// Driver is what the operator needs of a range driver.
type Driver interface {
	// Logs follows a container's output, from its start when since is
	// zero.
	Logs(ctx context.Context, name string, since time.Time) (io.ReadCloser, error)
	// Exec runs a cyrange command line inside a running container.
	Exec(ctx context.Context, name string, args []string, env map[string]string) (string, error)
}

// Operator works on the replicas of one plan.
type Operator struct {
	Plan     *cyberrange.Plan
	Scenario *scenarios.Scenario
	Driver   Driver
	Targets  target.Set
}

// Timeouts of the operator's calls.
const (
	passwordTimeout = 10 * time.Second
	remedyTimeout   = time.Minute
)

// ErrNoTarget says a service runs no built-in target of this build.
var ErrNoTarget = errors.New("operator: not a built-in target")

// targetOf returns the built-in target of service svc.
func (o *Operator) targetOf(svc int) (target.Target, error) {
	if o.Driver == nil {
		return nil, errors.New("operator: the range's driver cannot run a command inside a container")
	}
	if svc < 0 || svc >= len(o.Scenario.Services) {
		return nil, fmt.Errorf("operator: service %d: %w", svc, cyberrange.ErrNotFound)
	}
	t, ok := o.Targets.Of(o.Scenario.Services[svc])
	if !ok {
		return nil, fmt.Errorf("service %q: %w", o.Scenario.Services[svc].Name, ErrNoTarget)
	}
	return t, nil
}

// Password reads the operator's password of owner's replica of service
// svc, which the target makes up at start and prints on its output for
// the operator's eyes only.
func (o *Operator) Password(ctx context.Context, owner, svc int) (string, error) {
	return o.passwordSince(ctx, owner, svc, time.Time{})
}

// passwordSince is Password reading the output from since: a target
// that restarted made up a new password, and the output from its first
// start still holds the old one.
func (o *Operator) passwordSince(ctx context.Context, owner, svc int, since time.Time) (string, error) {
	t, err := o.targetOf(svc)
	if err != nil {
		return "", err
	}
	c, ok := o.Plan.Target(owner, svc)
	if !ok {
		return "", fmt.Errorf("operator: no replica of service %d owned by team %d: %w", svc, owner, cyberrange.ErrNotFound)
	}
	lctx, cancel := context.WithTimeout(ctx, passwordTimeout)
	defer cancel()
	rc, err := o.Driver.Logs(lctx, c.Name, since)
	if err != nil {
		return "", fmt.Errorf("operator: the output of %s: %w", c.Name, err)
	}
	defer rc.Close()
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if p, ok := t.OperatorPassword(sc.Text()); ok {
			return p, nil
		}
	}
	return "", fmt.Errorf("operator: no operator password in the output of %s", c.Name)
}

// Remedy applies the remedy of weakness w in the admin console of
// owner's replica of service svc: `cyrange console remedy` runs in the
// service's checker container, which the console lets in on every driver.
func (o *Operator) Remedy(ctx context.Context, owner, svc int, w string) error {
	t, err := o.targetOf(svc)
	if err != nil {
		return err
	}
	if _, ok := target.Find(t, w); !ok {
		return fmt.Errorf("operator: %s has no weakness %q: %w", t.Name(), w, cyberrange.ErrNotFound)
	}
	addr, ok := o.Plan.AdminConsole(owner, svc)
	if !ok {
		return fmt.Errorf("operator: the replica of service %d owned by team %d has no admin console: %w", svc, owner, cyberrange.ErrNotFound)
	}
	chk, ok := o.Plan.Checker(t.Name())
	if !ok {
		return fmt.Errorf("operator: no checker container of %s in the plan: %w", t.Name(), cyberrange.ErrNotFound)
	}
	password, err := o.Password(ctx, owner, svc)
	if err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, remedyTimeout)
	defer cancel()
	args := []string{"console", "remedy", "--target", t.Name(), "--url", "http://" + addr.String(), w}
	if _, err := o.Driver.Exec(rctx, chk.Name, args, map[string]string{EnvPassword: password}); err != nil {
		return fmt.Errorf("operator: remedy of %s on %s: %w", w, addr, err)
	}
	return nil
}
