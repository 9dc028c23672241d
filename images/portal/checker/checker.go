// Package checker is the enochecker v2 checker of the portal replica: it
// plants flags where the province's e-government portal keeps what the
// public and its officers write (a citizen's dossier submitted online, an
// agency's internal draft, a message through a site's contact form), gets
// them back, leaves and reads ordinary noise, and uses the portal as
// citizens and officers do.
//
// It logs officers in with the per-officer master passwords the target
// derives from the checker secret and the replica's name, so that a
// password reset by the defence never locks it out, and it derives
// everything it needs (the citizen, the officer, the titles) from the
// secret and the task chain id, so that it keeps no state between tasks.
// It connects to the replicas it is given only: a task for any other
// address is refused before anything is sent, so that nobody can have it
// present a master password elsewhere.
//
// It reaches the target over the network only and must never import the
// target's server package.
package checker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/cyrange/cyrange/images/portal/contract"
	"github.com/cyrange/cyrange/images/portal/portalclient"
	"github.com/cyrange/cyrange/images/target/taskrun"
	"github.com/cyrange/cyrange/scoreboard/checks"
)

// ServiceName is the service's name in the protocol.
const ServiceName = contract.ServiceName

// Dialer opens connections to the target.
type Dialer interface {
	DialContext(ctx context.Context, network, addr string) (net.Conn, error)
}

// Config configures a Checker.
type Config struct {
	// Secret is the checker secret shared with the target; without it the
	// checker cannot log officers in and every task is an internal error.
	Secret string
	// Replicas are the only targets the checker connects to: each
	// replica's host (an IP address or a name, as tasks give it) and its
	// name in the game, which its master passwords depend on (see
	// contract.MasterPassword). A task for any other address is refused.
	Replicas map[string]string
	// HTTPPort is the public portal's port (default 80); AdminPort the
	// admin console's as the replica sees itself (default 8025), which
	// only the exploit method's SSRF uses.
	HTTPPort, AdminPort int
	// Dialer defaults to a net.Dialer.
	Dialer Dialer
	// Think is the longest pause between two steps of a person's
	// session. Zero means the default (1.5 s); negative means no pauses
	// (tests).
	Think  time.Duration
	Logger *slog.Logger
	Now    func() time.Time
}

// Checker runs tasks against portal replicas. It is safe for concurrent
// use and holds nothing between tasks.
type Checker struct {
	cfg   Config
	tasks *taskrun.Runner[target]
}

var _ checks.Checker = (*Checker)(nil)

// New makes a checker.
func New(cfg Config) *Checker {
	if cfg.HTTPPort == 0 {
		cfg.HTTPPort = 80
	}
	if cfg.AdminPort == 0 {
		cfg.AdminPort = 8025
	}
	if cfg.Dialer == nil {
		cfg.Dialer = &net.Dialer{Timeout: 10 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Checker{cfg: cfg}
	c.tasks = taskrun.New(taskrun.Config[target]{
		Secret: cfg.Secret, Replicas: cfg.Replicas, Target: c.target,
		Methods: taskrun.Methods[target]{PutFlag: c.putFlag, GetFlag: c.getFlag, PutNoise: c.putNoise,
			GetNoise: c.getNoise, Havoc: c.havoc, Exploit: c.exploit},
		Failed: failed,
		Think:  cfg.Think, Logger: cfg.Logger, Now: cfg.Now,
	})
	return c
}

// The protocol's variant counts.
const (
	noiseVariants = 2
	havocVariants = 3
)

// Info describes the service.
func (c *Checker) Info(context.Context) (checks.ServiceInfo, error) {
	n := len(contract.Stores())
	return checks.ServiceInfo{ServiceName: ServiceName, FlagVariants: n, NoiseVariants: noiseVariants, HavocVariants: havocVariants, ExploitVariants: n}, nil
}

// Run runs one task.
func (c *Checker) Run(ctx context.Context, t checks.Task) (checks.TaskResult, error) {
	return c.tasks.Run(ctx, t)
}

// failed turns an error of step into a verdict as taskrun.Failed does,
// naming the portal's wrong answers (a refused login, a missing page, an
// unexpected status) in its message.
func failed(step string, err error) error {
	return taskrun.FailedAs(step, err, wrongAnswer)
}

func wrongAnswer(err error) string {
	var se *portalclient.StatusError
	switch {
	case errors.Is(err, portalclient.ErrUnauthorized), errors.Is(err, portalclient.ErrLocked):
		return "refused"
	case errors.Is(err, portalclient.ErrNotFound):
		return "not found"
	case errors.As(err, &se):
		return fmt.Sprintf("HTTP %d", se.Code)
	}
	return ""
}

// target is where one replica's portal listens, and its name.
type target struct {
	host    string
	replica string
	base    string // the public portal's URL
}

// target returns where replica r's portal listens.
func (c *Checker) target(r taskrun.Replica) target {
	return target{host: r.Host, replica: r.Name, base: "http://" + net.JoinHostPort(r.Host, strconv.Itoa(c.cfg.HTTPPort))}
}
