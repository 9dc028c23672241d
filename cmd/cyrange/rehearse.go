package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/net/proxy"

	"github.com/cyrange/cyrange/images/mailserver"
	"github.com/cyrange/cyrange/images/mailserver/contract"
	"github.com/cyrange/cyrange/images/mailserver/exploits"
	"github.com/cyrange/cyrange/images/mailserver/webclient"
	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/scenarios"
	"github.com/cyrange/cyrange/scoreboard"
	"github.com/cyrange/cyrange/scoreboard/checks"
	"github.com/cyrange/cyrange/scoreboard/tokens"
)

// rehearsalSuffix renames the rehearsed scenario, so that its containers,
// networks and records never meet those of the real exercise.
const rehearsalSuffix = "-rehearsal"

// rehearsalHooks are what tests change of a rehearsal.
type rehearsalHooks struct {
	// binary is what the local driver runs (the test binary cannot).
	binary string
	// beforeExploits runs once the flags are planted, before any exploit:
	// a test makes the target disagree with the scenario here.
	beforeExploits func(ctx context.Context, r *rehearsal) error
}

func runRehearse(ctx context.Context, e *env, args []string) error {
	return rehearseCommand(ctx, e, args, rehearsalHooks{})
}

func rehearseCommand(ctx context.Context, e *env, args []string, h rehearsalHooks) error {
	const usage = "usage: cyrange rehearse SCENARIO [--driver docker|local] [--json] [--keep]"
	fs := newFlagSet(e, "rehearse")
	driver := fs.String("driver", cyberrange.DriverDocker, "where the scratch range runs: local or docker")
	asJSON := fs.Bool("json", false, "print the readiness report as JSON")
	keep := fs.Bool("keep", false, "leave the scratch range and its data directory up for a look")
	verbose := fs.Bool("v", false, "log debug messages")
	pos, err := parsePositional(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("%s (SCENARIO: a file or one of %s)", usage, strings.Join(scenarios.Builtins(), ", "))
	}
	if *driver != cyberrange.DriverLocal && *driver != cyberrange.DriverDocker {
		return usagef("--driver must be local or docker, not %q", *driver)
	}
	sc, err := openScenario(pos[0])
	if err != nil {
		return err
	}
	sc.Name += rehearsalSuffix
	if err := sc.Validate(); err != nil {
		return fmt.Errorf("rehearse: %w", err)
	}
	data, err := tempDataDir("cyrange-" + sc.Name)
	if err != nil {
		return err
	}
	// The renamed scenario, so that a kept range can be taken down.
	scenFile := filepath.Join(data, "scenario.yaml")
	if err := os.WriteFile(scenFile, sc.Canonical(), 0o600); err != nil {
		return err
	}
	logger := newLogger(e.stderr, *verbose)
	// Progress goes where it does not mix with the JSON report.
	progress := e
	if *asJSON {
		progress = &env{stdout: e.stderr, stderr: e.stderr, getenv: e.getenv}
	}
	r := &rehearsal{sc: sc, driver: *driver, logger: logger, hooks: h, flags: map[string]string{}}
	r.run(ctx, progress, data)
	if *keep {
		fmt.Fprintf(progress.stdout, "The scratch range stays up: cyrange range down %s --driver %s --data %s\n",
			scenFile, *driver, data)
	} else {
		r.teardown(ctx, data)
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(struct {
			Scenario string      `json:"scenario"`
			Driver   string      `json:"driver"`
			Ready    bool        `json:"ready"`
			Checks   []readiness `json:"checks"`
		}{sc.Name, *driver, r.ready(), r.results}); err != nil {
			return err
		}
	} else {
		r.print(e.stdout)
	}
	if !r.ready() {
		return fmt.Errorf("%q is not ready: %s", strings.TrimSuffix(sc.Name, rehearsalSuffix), r.firstFailure())
	}
	return nil
}

// readiness is one line of the report.
type readiness struct {
	Check  string `json:"check"`
	Target string `json:"target"`
	// Result is pass, fail or skip (a check the driver cannot make).
	Result string `json:"result"`
	Reason string `json:"reason,omitempty"`
}

const (
	resultPass = "pass"
	resultFail = "fail"
	resultSkip = "skip"
)

// rehearsal is one pre-flight check of a scenario on a scratch range.
type rehearsal struct {
	sc     *scenarios.Scenario
	driver string
	logger *slog.Logger
	hooks  rehearsalHooks

	rg      *exerciseRange
	cfg     *scoreboard.Config
	toks    *tokens.Set
	results []readiness
	round   int64
	// flags maps every flag planted to "<owner>/<service>/<store>".
	flags map[string]string
	// infos are the attack info of each replica's flags ("owner/svc").
	infos map[string][]string
}

func (r *rehearsal) record(check, target string, err error) bool {
	res := readiness{Check: check, Target: target, Result: resultPass}
	if err != nil {
		res.Result, res.Reason = resultFail, err.Error()
	}
	r.results = append(r.results, res)
	return err == nil
}

func (r *rehearsal) skip(check, target, reason string) {
	r.results = append(r.results, readiness{Check: check, Target: target, Result: resultSkip, Reason: reason})
}

func (r *rehearsal) ready() bool { return r.firstFailure() == "" }

func (r *rehearsal) firstFailure() string {
	n, first := 0, ""
	for _, res := range r.results {
		if res.Result == resultFail {
			if n == 0 {
				first = fmt.Sprintf("%s %s: %s", res.Check, res.Target, res.Reason)
			}
			n++
		}
	}
	if n > 1 {
		first += fmt.Sprintf(" (and %d more failures)", n-1)
	}
	return first
}

func (r *rehearsal) print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tTARGET\tRESULT\tREASON")
	pass := 0
	for _, res := range r.results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", res.Check, res.Target, strings.ToUpper(res.Result), dash(res.Reason))
		if res.Result == resultPass {
			pass++
		}
	}
	tw.Flush()
	verdict := "READY"
	if !r.ready() {
		verdict = "NOT READY"
	}
	fmt.Fprintf(w, "\n%d of %d checks passed: %s\n", pass, len(r.results), verdict)
}

// run brings the scratch range up and makes every check; failures are
// recorded, never returned.
func (r *rehearsal) run(ctx context.Context, e *env, data string) {
	if r.driver == cyberrange.DriverLocal {
		// Local ranges share the loopback addresses whatever their name:
		// with another one up, the scratch checkers would plant flags in
		// the real targets.
		if err := localAddressesFree(ctx, r.sc, data); err != nil {
			r.record("range up", r.sc.Name, err)
			return
		}
	}
	rg, err := startRangeWith(ctx, e, r.sc, data, r.driver, driverOptions{Logger: r.logger, Binary: r.hooks.binary})
	if !r.record("range up", r.sc.Name, err) {
		return
	}
	r.rg = rg
	if rep, err := rg.orch.Status(ctx, rg.plan); err != nil || !rep.Healthy {
		if err == nil {
			err = fmt.Errorf("%d of %d containers running", rep.Running, rep.Total)
		}
		r.record("range healthy", r.sc.Name, err)
		return
	}
	r.cfg = r.sc.GameConfig(rg.plan.Placement())
	if !r.record("range healthy", r.sc.Name, r.waitListening(ctx)) {
		return
	}
	if r.toks, err = tokens.Load(data, r.cfg.Teams, true); !r.record("team tokens", r.sc.Name, err) {
		return
	}
	r.infos = map[string][]string{}
	r.round = 1
	for _, rp := range r.cfg.Replicas {
		r.checkReplica(ctx, rp, true)
	}
	r.checkGateways(ctx)
	if r.hooks.beforeExploits != nil {
		if err := r.hooks.beforeExploits(ctx, r); err != nil {
			r.record("before exploits", r.sc.Name, err)
			return
		}
	}
	for _, rp := range r.cfg.Replicas {
		r.checkExploits(ctx, rp)
	}
}

// localAddressesFree fails if anything answers on an address the local
// plan of sc listens on.
func localAddressesFree(ctx context.Context, sc *scenarios.Scenario, data string) error {
	plan, err := rangePlan(sc, data, cyberrange.DriverLocal, "", true)
	if err != nil {
		return err
	}
	for _, c := range plan.Containers {
		if len(c.Networks) == 0 {
			continue
		}
		for _, p := range c.Ports {
			addr := net.JoinHostPort(c.Networks[0].Address.String(), fmt.Sprint(p.Number))
			if p.Publish != "" {
				addr = p.Publish
			}
			d := net.Dialer{Timeout: 300 * time.Millisecond}
			if conn, err := d.DialContext(ctx, "tcp", addr); err == nil {
				conn.Close()
				return fmt.Errorf("%s (%s) is in use: another local range is up; take it down or rehearse on docker", addr, c.Name)
			}
		}
	}
	return nil
}

// readyWithin bounds how long the range's processes may take to listen
// once their containers run.
const readyWithin = time.Minute

// waitListening waits until every replica's ports, every gateway and
// every checker answer: a running container is not yet a listening one.
func (r *rehearsal) waitListening(ctx context.Context) error {
	wctx, cancel := context.WithTimeout(ctx, readyWithin)
	defer cancel()
	var addrs []string
	// With docker only the checkers and the gateways are published to the
	// host; the exploits find out whether the targets listen.
	for _, rp := range r.cfg.Replicas {
		for _, p := range r.rg.plan.ReplicaPorts(rp.Owner, rp.Service) {
			if r.driver == cyberrange.DriverLocal {
				addrs = append(addrs, net.JoinHostPort(rp.Address, fmt.Sprint(p.Number)))
			}
		}
	}
	for team := range r.cfg.Teams {
		if gw, ok := r.rg.plan.Gateway(team); ok {
			addrs = append(addrs, r.socksAddr(wctx, gw))
		}
	}
	for _, addr := range addrs {
		if err := dialUntil(wctx, addr, 100*time.Millisecond); err != nil {
			return fmt.Errorf("%s not listening after %v: %w", addr, readyWithin, err)
		}
	}
	for i, c := range r.rg.checkers {
		for {
			_, err := c.Info(wctx)
			if err == nil {
				break
			}
			if wctx.Err() != nil {
				return fmt.Errorf("the checker of %s not answering after %v: %w", r.cfg.Services[i].Name, readyWithin, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return nil
}

// teardown takes the scratch range down and removes its data directory.
func (r *rehearsal) teardown(ctx context.Context, data string) {
	if r.rg != nil {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		r.record("range down", r.sc.Name, r.rg.orch.Down(dctx, r.sc.Name))
		r.rg.release()
	}
	os.RemoveAll(data)
}

func (r *rehearsal) replicaName(rp scoreboard.Replica) string {
	return r.cfg.Teams[rp.Owner].Name + "/" + r.cfg.Services[rp.Service].Name
}

// newFlag makes a flag of the game's format.
func newFlag() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, 31)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b) + "="
}

// checkTimeout bounds one checker task, as a tick would.
const checkTimeout = 30 * time.Second

func (r *rehearsal) task(ctx context.Context, c checks.Checker, t checks.Task) error {
	tctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	t.Timeout = checkTimeout.Milliseconds()
	t.RoundLength = r.sc.Tick.Milliseconds()
	t.CurrentRoundID = r.round
	if t.RelatedRoundID == 0 {
		t.RelatedRoundID = r.round
	}
	res, err := c.Run(tctx, t)
	if err != nil {
		return err
	}
	if res.Result != checks.OK {
		msg := ""
		if res.Message != nil {
			msg = ": " + *res.Message
		}
		return fmt.Errorf("%s%s", res.Result, msg)
	}
	if t.Method == checks.PutFlag && res.AttackInfo != nil {
		return attackInfo{*res.AttackInfo}
	}
	return nil
}

// attackInfo carries a putflag's attack info out of task.
type attackInfo struct{ info string }

func (a attackInfo) Error() string { return "" }

// checkReplica runs every checker method against one defended replica:
// putflag and getflag of each store (when plant is set), putnoise and
// getnoise, havoc; without plant it gets the flags planted before.
func (r *rehearsal) checkReplica(ctx context.Context, rp scoreboard.Replica, plant bool) bool {
	c, ok := r.rg.checkers[rp.Service]
	target := r.replicaName(rp)
	if !ok {
		r.skip("checker", target, "the service has no checker")
		return true
	}
	info, err := c.Info(ctx)
	if !r.record("checker info", target, err) {
		return false
	}
	svc := r.cfg.Services[rp.Service]
	base := checks.Task{Address: rp.Address, TeamID: rp.Owner, TeamName: r.cfg.Teams[rp.Owner].Name}
	allOK := true
	step := func(check string, t checks.Task) {
		err := r.task(ctx, c, t)
		var ai attackInfo
		if errors.As(err, &ai) {
			key := fmt.Sprint(rp.Owner, "/", rp.Service)
			r.infos[key] = append(r.infos[key], ai.info)
			err = nil
		}
		allOK = r.record(check, target, err) && allOK
	}
	for v := range info.FlagVariants {
		store := fmt.Sprintf("variant %d", v)
		if v < len(svc.Stores) {
			store = svc.Stores[v]
		}
		chain := checks.ChainID("flag", rp.Service, 1, rp.Owner, v)
		if plant {
			flag := newFlag()
			t := base
			t.Method, t.VariantID, t.Flag, t.TaskChainID = checks.PutFlag, v, checks.Str(flag), chain
			step("putflag "+store, t)
			r.flags[flag] = fmt.Sprint(rp.Owner, "/", rp.Service, "/", store)
		}
		for flag, where := range r.flags {
			if where != fmt.Sprint(rp.Owner, "/", rp.Service, "/", store) {
				continue
			}
			t := base
			t.Method, t.VariantID, t.Flag, t.TaskChainID, t.RelatedRoundID = checks.GetFlag, v, checks.Str(flag), chain, 1
			step("getflag "+store, t)
		}
	}
	for v := range info.NoiseVariants {
		chain := checks.ChainID("noise", rp.Service, r.round, rp.Owner, v)
		t := base
		t.Method, t.VariantID, t.TaskChainID = checks.PutNoise, v, chain
		step(fmt.Sprintf("putnoise %d", v), t)
		t.Method = checks.GetNoise
		step(fmt.Sprintf("getnoise %d", v), t)
	}
	for v := range info.HavocVariants {
		t := base
		t.Method, t.VariantID, t.TaskChainID = checks.Havoc, v, checks.ChainID("havoc", rp.Service, r.round, rp.Owner, v)
		step(fmt.Sprintf("havoc %d", v), t)
	}
	return allOK
}

// socksAddr is where the host reaches team's gateway.
func (r *rehearsal) socksAddr(ctx context.Context, gw cyberrange.GatewayInfo) string {
	addr := gw.Address
	if rep, err := r.rg.orch.Status(ctx, r.rg.plan); err == nil {
		for _, c := range rep.Containers {
			if c.Name == gw.Container && c.Ports[cyberrange.PortSocks] != "" {
				addr = c.Ports[cyberrange.PortSocks]
			}
		}
	}
	return addr
}

func (r *rehearsal) gatewayDialer(ctx context.Context, team int, password string) (proxy.ContextDialer, error) {
	gw, ok := r.rg.plan.Gateway(team)
	if !ok {
		return nil, fmt.Errorf("no gateway for team %d", team)
	}
	d, err := proxy.SOCKS5("tcp", r.socksAddr(ctx, gw), &proxy.Auth{User: gw.Short, Password: password},
		&net.Dialer{Timeout: 10 * time.Second})
	if err != nil {
		return nil, err
	}
	cd, ok := d.(proxy.ContextDialer)
	if !ok {
		return nil, errors.New("the SOCKS5 dialer cannot take a context")
	}
	return cd, nil
}

// checkGateways proves every team's gateway lets the team in with its
// token and keeps anyone with a wrong one out.
func (r *rehearsal) checkGateways(ctx context.Context) {
	for team, t := range r.cfg.Teams {
		gw, ok := r.rg.plan.Gateway(team)
		if !ok {
			continue
		}
		target := t.Name + " (" + gw.Short + ")"
		// Any replica the team may reach, on its first port.
		dest := ""
		for _, rp := range r.cfg.Replicas {
			if rp.Owner == team {
				continue
			}
			if host, ports, ok := r.rg.plan.TargetFor(team, rp.Owner, rp.Service); ok && len(ports) > 0 {
				dest = net.JoinHostPort(host.String(), fmt.Sprint(ports[0].Number))
				break
			}
		}
		if dest == "" {
			r.skip("gateway token", target, "no replica of another team to reach")
			continue
		}
		dial := func(password string) error {
			d, err := r.gatewayDialer(ctx, team, password)
			if err != nil {
				return err
			}
			dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			c, err := d.DialContext(dctx, "tcp", dest)
			if err != nil {
				return err
			}
			return c.Close()
		}
		err := dial(r.toks.TeamToken(team))
		if err != nil {
			err = fmt.Errorf("with the team's token, %s not reached: %w", dest, err)
		}
		r.record("gateway token", target, err)
		err = nil
		if dial("not-"+r.toks.TeamToken(team)) == nil {
			err = errors.New("a wrong token was let in")
		}
		r.record("gateway wrong token", target, err)
	}
}

// weaknessOn says whether the target is told to plant weakness w, read
// as the plan turns the service's options into the target's
// --weaknesses: all when the scenario names none; a mapping's keys set
// true; a list's names; a string as the target parses it.
func weaknessOn(svc scenarios.Service, w string) bool {
	switch v := svc.Options["weaknesses"].(type) {
	case nil:
		return true
	case scenarios.Options:
		return v.Bool(w, false)
	case []any:
		for _, x := range v {
			if fmt.Sprint(x) == w {
				return true
			}
		}
		return false
	case string:
		set, err := contract.ParseWeaknesses(v)
		return err == nil && set[w]
	}
	return false
}

// isMailTarget says whether the service runs the built-in mail target,
// whose exploits and remedies the rehearsal knows.
func isMailTarget(svc scenarios.Service) bool {
	name, ok := svc.IsBuiltinChecker()
	return ok && name == "mailserver" && svc.Image == "mailserver"
}

// attacker is the attack team whose gateway the exploits go through.
func (r *rehearsal) attacker(owner int) (int, bool) {
	for team, t := range r.cfg.Teams {
		if team == owner || !t.Role.Attacks() {
			continue
		}
		if _, ok := r.rg.plan.Gateway(team); ok {
			return team, true
		}
	}
	return 0, false
}

// runExploit runs e from team's gateway against the replica and returns
// the flags planted by this rehearsal it found.
func (r *rehearsal) runExploit(ctx context.Context, e exploits.Exploit, team int, rp scoreboard.Replica) ([]string, error) {
	d, err := r.gatewayDialer(ctx, team, r.toks.TeamToken(team))
	if err != nil {
		return nil, err
	}
	host, ports, ok := r.rg.plan.TargetFor(team, rp.Owner, rp.Service)
	if !ok {
		return nil, errors.New("the attack team has no way to the replica")
	}
	svc := r.sc.Services[rp.Service]
	t := exploits.Target{Host: host.String(), AttackInfo: r.infos[fmt.Sprint(rp.Owner, "/", rp.Service)],
		Domain: svc.Options.String("domain", "")}
	for _, p := range ports {
		switch p.Name {
		case "smtp":
			t.SMTPPort = p.Number
		case "imap":
			t.IMAPPort = p.Number
		case "http":
			t.HTTPPort = p.Number
		}
	}
	ectx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	got, err := e.Run(ectx, d, t)
	prefix := fmt.Sprint(rp.Owner, "/", rp.Service, "/")
	var planted []string
	for _, f := range got {
		if strings.HasPrefix(r.flags[f], prefix) {
			planted = append(planted, f)
		}
	}
	return planted, err
}

// checkExploits runs each reference exploit against a mail replica: one
// whose weakness is on must get a flag, and after its remedy must not
// while the checker stays OK; one whose weakness is off must get nothing.
func (r *rehearsal) checkExploits(ctx context.Context, rp scoreboard.Replica) {
	svc := r.sc.Services[rp.Service]
	if !isMailTarget(svc) {
		return
	}
	target := r.replicaName(rp)
	team, ok := r.attacker(rp.Owner)
	if !ok {
		r.skip("exploits", target, "no attack team with a gateway")
		return
	}
	var remedied []exploits.Exploit
	for _, e := range exploits.All() {
		check := "exploit " + e.Name
		got, err := r.runExploit(ctx, e, team, rp)
		if !weaknessOn(svc, e.Weakness) {
			var ferr error
			if len(got) > 0 {
				ferr = fmt.Errorf("weakness %s is off in the scenario but the exploit got %d flags", e.Weakness, len(got))
			}
			r.record(check+" (off)", target, ferr)
			continue
		}
		if len(got) == 0 {
			if err == nil {
				err = errors.New("no error")
			}
			r.record(check, target, fmt.Errorf("exploit %s got no flag: %w", e.Name, err))
			continue
		}
		r.record(check, target, nil)
		remedied = append(remedied, e)
	}
	if len(remedied) == 0 {
		return
	}
	for _, e := range remedied {
		check := "remedy " + e.Weakness
		if err := r.remedy(ctx, rp, e.Weakness); err != nil {
			r.record(check, target, fmt.Errorf("applying it in the console: %w", err))
			continue
		}
		got, _ := r.runExploit(ctx, e, team, rp)
		var err error
		if len(got) > 0 {
			err = fmt.Errorf("exploit %s still got %d flags after the remedy", e.Name, len(got))
		}
		r.record(check, target, err)
	}
	// The staff and the checker are still served once every remedy is in.
	r.round++
	r.checkReplica(ctx, rp, false)
}

// errNoConsole says the host cannot reach a replica's admin console.
var errNoConsole = errors.New("the admin console is not reachable from the host with this driver")

// remedy applies the remedy of weakness w to the replica.
func (r *rehearsal) remedy(ctx context.Context, rp scoreboard.Replica, w string) error {
	return remedyReplica(ctx, r.rg, r.driver, rp.Owner, rp.Service, w)
}

var operatorPasswordLine = regexp.MustCompile(`admin console operator password: (\S+)`)

// replicaConsole logs in to the admin console of the replica of service
// svc owned by team owner as its operator, from an address of the
// replica's own network (the console lets no one else in). Only the local
// driver's networks are open to the host.
func replicaConsole(ctx context.Context, rg *exerciseRange, driver string, owner, svc int) (*webclient.Admin, error) {
	if driver != cyberrange.DriverLocal {
		return nil, errNoConsole
	}
	var target cyberrange.Container
	found := false
	for _, c := range rg.plan.Containers {
		if c.Kind == cyberrange.KindTarget && c.Team == owner && c.Service == svc {
			target, found = c, true
		}
	}
	if !found || len(target.Networks) == 0 {
		return nil, fmt.Errorf("no target container of team %d, service %d", owner, svc)
	}
	var replicaNet netip.Prefix
	for _, n := range rg.plan.Networks {
		if n.Labels[cyberrange.LabelNetwork] == cyberrange.NetReplica && n.Team == target.Team {
			replicaNet = n.Subnet
		}
	}
	if !replicaNet.IsValid() || !replicaNet.Addr().Is4() {
		return nil, fmt.Errorf("no replica network for %s", target.Name)
	}
	password, err := operatorPassword(ctx, rg.driver, target.Name)
	if err != nil {
		return nil, err
	}
	port := 0
	for _, p := range target.Ports {
		if p.Name == cyberrange.PortAdmin {
			port = p.Number
		}
	}
	b := replicaNet.Addr().As4()
	b[3] = 200 // a host of the replica's network the plan gives no one
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: netip.AddrFrom4(b).AsSlice()}, Timeout: 10 * time.Second}
	base := "http://" + net.JoinHostPort(target.Networks[0].Address.String(), fmt.Sprint(port))
	return webclient.NewAdmin(base, d, mailserver.OperatorUser, password), nil
}

// operatorPassword reads the operator's password, which the target makes
// up at start and prints on its output for the operator's eyes only.
func operatorPassword(ctx context.Context, logs cyberrange.Driver, container string) (string, error) {
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	rc, err := logs.Logs(lctx, container, time.Time{})
	if err != nil {
		return "", fmt.Errorf("the target's output: %w", err)
	}
	defer rc.Close()
	sc := bufio.NewScanner(rc)
	for sc.Scan() {
		if m := operatorPasswordLine.FindStringSubmatch(sc.Text()); m != nil {
			return m[1], nil
		}
	}
	return "", fmt.Errorf("no operator password in the output of %s", container)
}

// applyWeaknessRemedy does in the admin console what the target's README
// gives as the remedy of weakness w.
func applyWeaknessRemedy(ctx context.Context, a *webclient.Admin, w string) error {
	switch w {
	case contract.WeakPassword:
		leaders, err := a.Users(ctx, "", "leader")
		if err != nil {
			return err
		}
		for _, l := range leaders {
			if _, err := a.ResetPassword(ctx, l.Addr, ""); err != nil {
				return err
			}
		}
		return nil
	case contract.SMTPVrfy:
		_, err := a.Update(ctx, webclient.Settings{VRFY: webclient.Bool(false)})
		return err
	case contract.NoLockout:
		_, err := a.Update(ctx, webclient.Settings{Lockout: webclient.Bool(true)})
		return err
	case contract.WebmailIDOR:
		_, err := a.Update(ctx, webclient.Settings{IDORPatched: webclient.Bool(true)})
		return err
	case contract.PathTraversal:
		_, err := a.Update(ctx, webclient.Settings{TraversalPatched: webclient.Bool(true)})
		return err
	case contract.AdminDefaultPassword:
		return a.ChangePassword(ctx, mailserver.AdminUser, "Rehearsal-"+newFlag()[:12])
	}
	return fmt.Errorf("no remedy known for weakness %q", w)
}
