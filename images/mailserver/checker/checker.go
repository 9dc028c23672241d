// Package checker is the enochecker v2 checker of the mail replica: it
// plants flags where an official's mail lives (a message in a provincial
// leader's inbox, a draft, an attachment), gets them back, leaves and reads
// ordinary noise mail, and uses the service as the province's staff do.
//
// It logs in with the per-mailbox master passwords the target derives from
// the checker secret and the replica's name, so that a password reset by
// the defence never locks it out, and it derives everything it needs from
// the secret and the task chain id, so that it keeps no state between
// tasks. It connects to the replicas it is given only: a task for any other
// address is refused before anything is sent, so that nobody can have it
// present a master password elsewhere.
//
// It reaches the target over the network only and must never import the
// target package.
package checker

import (
	"context"
	"encoding/hex"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cyrange/cyrange/images/mailserver/contract"
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
	// checker cannot log in and every task is an internal error.
	Secret string
	// Replicas are the only targets the checker connects to: each
	// replica's host (an IP address or a name, as tasks give it) and its
	// name in the game, which its master passwords depend on (see
	// contract.MasterPassword). A task for any other address is refused.
	Replicas map[string]string
	// Ports of the target's services (default 25, 143 and 80).
	SMTPPort, IMAPPort, HTTPPort int
	// Dialer defaults to a net.Dialer.
	Dialer Dialer
	// Think is the longest pause between two steps of a user's session, so
	// that the checker's sessions have a person's rhythm. Zero means the
	// default (1.5 s); negative means no pauses (tests).
	Think  time.Duration
	Logger *slog.Logger
	Now    func() time.Time
}

// Checker runs tasks against mail replicas. It is safe for concurrent use.
type Checker struct {
	cfg   Config
	tasks *taskrun.Runner[target]

	mu   sync.Mutex
	dirs map[string]dirEntry
}

var _ checks.Checker = (*Checker)(nil)

// New makes a checker.
func New(cfg Config) *Checker {
	if cfg.SMTPPort == 0 {
		cfg.SMTPPort = 25
	}
	if cfg.IMAPPort == 0 {
		cfg.IMAPPort = 143
	}
	if cfg.HTTPPort == 0 {
		cfg.HTTPPort = 80
	}
	if cfg.Dialer == nil {
		cfg.Dialer = &net.Dialer{Timeout: 10 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := &Checker{cfg: cfg, dirs: make(map[string]dirEntry)}
	c.tasks = taskrun.New(taskrun.Config[target]{
		Secret: cfg.Secret, Replicas: cfg.Replicas, Target: c.target,
		Methods: taskrun.Methods[target]{PutFlag: c.putFlag, GetFlag: c.getFlag, PutNoise: c.putNoise,
			GetNoise: c.getNoise, Havoc: c.havoc, Exploit: c.exploit},
		Forget: c.forget,
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

// target is where one replica's services listen, and its name.
type target struct {
	host             string
	replica          string
	smtp, imap, http string
}

// target returns where replica r's services listen.
func (c *Checker) target(r taskrun.Replica) target {
	at := func(p int) string { return net.JoinHostPort(r.Host, strconv.Itoa(p)) }
	return target{host: r.Host, replica: r.Name, smtp: at(c.cfg.SMTPPort), imap: at(c.cfg.IMAPPort), http: "http://" + at(c.cfg.HTTPPort)}
}

// forget drops what the checker read of tg's directory: after a failed
// task the replica may have been rebuilt.
func (c *Checker) forget(tg target) {
	c.mu.Lock()
	delete(c.dirs, tg.host)
	c.mu.Unlock()
}

// tag is the part of a planted message's Message-ID that finds it again.
func (c *Checker) tag(chain string) string {
	return hex.EncodeToString(c.tasks.Derive("tag", chain))[:12]
}

// master is the master password of mailbox addr on replica tg.
func (c *Checker) master(tg target, addr string) string {
	return contract.MasterPassword(c.cfg.Secret, tg.replica, addr)
}

func containsFlag(text, flag string) bool { return strings.Contains(text, flag) }
