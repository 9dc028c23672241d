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
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cyrange/cyrange/images/mailserver/contract"
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
	cfg Config

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
	if cfg.Think == 0 {
		cfg.Think = 1500 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	replicas := make(map[string]string, len(cfg.Replicas))
	for host, name := range cfg.Replicas {
		replicas[checks.CanonicalHost(host)] = name
	}
	cfg.Replicas = replicas
	return &Checker{cfg: cfg, dirs: make(map[string]dirEntry)}
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

// verdict is a task's outcome other than OK, with a message for the
// scoreboard. Messages never contain a flag.
type verdict struct {
	result checks.Result
	msg    string
}

func (v *verdict) Error() string { return string(v.result) + ": " + v.msg }

func mumble(format string, args ...any) error {
	return &verdict{result: checks.Mumble, msg: fmt.Sprintf(format, args...)}
}

// failed turns an error of step into a verdict: the service is OFFLINE when
// it cannot be reached or does not answer in time, MUMBLE when it answers
// wrongly.
func failed(step string, err error) error {
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
	return &verdict{result: checks.Mumble, msg: step + ": unexpected answer"}
}

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

// errInternal marks a failure of the checker itself (a task it cannot run):
// the runner records it as INTERNAL_ERROR and blames nobody.
var errInternal = errors.New("checker")

// Run runs one task.
func (c *Checker) Run(ctx context.Context, t checks.Task) (checks.TaskResult, error) {
	if c.cfg.Secret == "" {
		return checks.TaskResult{}, fmt.Errorf("%w: no checker secret configured", errInternal)
	}
	tg, ok := c.target(t.Address)
	if !ok {
		// Refused before any connection: a task pointed elsewhere would
		// have the checker present a replica's master password there.
		c.cfg.Logger.Warn("task refused: not a replica", "method", t.Method, "chain", t.TaskChainID, "address", t.Address)
		return checks.TaskResult{Result: checks.InternalError,
			Message: checks.Str(fmt.Sprintf("refused: %q is not a replica this checker serves", t.Address))}, nil
	}
	start := c.cfg.Now()
	var (
		out checks.TaskResult
		err error
	)
	switch t.Method {
	case checks.PutFlag:
		var info string
		info, err = c.putFlag(ctx, tg, t)
		out.AttackInfo = checks.Str(info)
	case checks.GetFlag:
		err = c.getFlag(ctx, tg, t)
	case checks.PutNoise:
		err = c.putNoise(ctx, tg, t)
	case checks.GetNoise:
		err = c.getNoise(ctx, tg, t)
	case checks.Havoc:
		err = c.havoc(ctx, tg, t)
	case checks.Exploit:
		var flag string
		flag, err = c.exploit(ctx, tg, t)
		out.Flag = checks.Str(flag)
	default:
		err = fmt.Errorf("%w: unknown method %q", errInternal, t.Method)
	}
	if errors.Is(err, errInternal) {
		return checks.TaskResult{}, err
	}
	out.Result = checks.OK
	if err != nil {
		// The replica may have been rebuilt: read its directory afresh
		// next time.
		c.mu.Lock()
		delete(c.dirs, tg.host)
		c.mu.Unlock()
		var v *verdict
		if !errors.As(err, &v) {
			v = failed(string(t.Method), err).(*verdict)
		}
		if ctx.Err() != nil && v.result == checks.Mumble {
			v = &verdict{result: checks.Offline, msg: v.msg + " (timed out)"}
		}
		out = checks.TaskResult{Result: v.result, Message: checks.Str(v.msg)}
	}
	c.cfg.Logger.Info("task done", "method", t.Method, "variant", t.VariantID, "chain", t.TaskChainID,
		"address", t.Address, "result", out.Result, "took", c.cfg.Now().Sub(start).Round(time.Millisecond).String())
	return out, nil
}

// target is where one replica's services listen, and its name.
type target struct {
	host             string
	replica          string
	smtp, imap, http string
}

// target returns the replica at address, or false when it is none of the
// checker's.
func (c *Checker) target(address string) (target, bool) {
	host := checks.CanonicalHost(address)
	name, ok := c.cfg.Replicas[host]
	if !ok || host == "" {
		return target{}, false
	}
	at := func(p int) string { return net.JoinHostPort(host, strconv.Itoa(p)) }
	return target{host: host, replica: name, smtp: at(c.cfg.SMTPPort), imap: at(c.cfg.IMAPPort), http: "http://" + at(c.cfg.HTTPPort)}, true
}

// derive is an HMAC of parts under the secret: the same chain always gives
// the same choices and tags, and nobody without the secret can predict them.
func (c *Checker) derive(parts ...string) []byte {
	m := hmac.New(sha256.New, []byte(c.cfg.Secret))
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

func (c *Checker) rng(parts ...string) *rand.Rand {
	sum := c.derive(parts...)
	return rand.New(rand.NewPCG(binary.BigEndian.Uint64(sum[:8]), binary.BigEndian.Uint64(sum[8:16])))
}

// tag is the part of a planted message's Message-ID that finds it again.
func (c *Checker) tag(chain string) string {
	return hex.EncodeToString(c.derive("tag", chain))[:12]
}

// master is the master password of mailbox addr on replica tg.
func (c *Checker) master(tg target, addr string) string {
	return contract.MasterPassword(c.cfg.Secret, tg.replica, addr)
}

// pause waits as a person between two steps, unless the task is short of
// time.
func (c *Checker) pause(ctx context.Context, r *rand.Rand) {
	if c.cfg.Think <= 0 {
		return
	}
	d := time.Duration(r.Int64N(int64(c.cfg.Think)))
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < 4*d {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func storeOf(t checks.Task) (string, error) {
	stores := contract.Stores()
	if t.VariantID < 0 || t.VariantID >= len(stores) {
		return "", fmt.Errorf("%w: no flag store %d", errInternal, t.VariantID)
	}
	return stores[t.VariantID], nil
}

func flagOf(t checks.Task) (string, error) {
	if t.Flag == nil || *t.Flag == "" {
		return "", fmt.Errorf("%w: %s without a flag", errInternal, t.Method)
	}
	return *t.Flag, nil
}

func containsFlag(text, flag string) bool { return strings.Contains(text, flag) }
