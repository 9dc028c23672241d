package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/scenarios"
)

// killPoint is when a range up is killed: once it has reported events
// progress events, or after delay. With run set, the command killed is
// `cyrange run`, during the range up it begins with.
type killPoint struct {
	events int
	delay  time.Duration
	run    bool
}

func (k killPoint) String() string {
	cmd := "range up"
	if k.run {
		cmd = "run"
	}
	if k.delay > 0 {
		return cmd + " after " + k.delay.Round(time.Millisecond).String()
	}
	return fmt.Sprintf("%s after %d events", cmd, k.events)
}

// upKilled runs `cyrange range up --json` (or `cyrange run`) and kills it
// with SIGKILL at kp; it returns the progress events it printed and
// whether the kill came before the range was up.
func upKilled(t *testing.T, scen, data, driver string, kp killPoint) ([]cyberrange.Progress, bool) {
	t.Helper()
	args := []string{"range", "up", scen, "--driver", driver, "--data", data, "--json"}
	if kp.run {
		args = []string{"run", scen, "--driver", driver, "--data", data, "--http", "127.0.0.1:0", "--submit", "127.0.0.1:0"}
	}
	cmd := exec.Command(binary, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	errb := &syncWriter{w: &bytes.Buffer{}}
	cmd.Stderr = errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	kill := func() { once.Do(func() { cmd.Process.Signal(syscall.SIGKILL) }) }
	if kp.delay > 0 {
		defer time.AfterFunc(kp.delay, kill).Stop()
	}
	// A hang guard only.
	defer time.AfterFunc(3*time.Minute, kill).Stop()
	var events []cyberrange.Progress
	up := false
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		p, ok := progressOf(sc.Text())
		if !ok {
			if kp.run && strings.Contains(sc.Text(), "is up (") {
				// run goes on with the exercise: the up is over.
				up = true
				kill()
			}
			continue
		}
		events = append(events, p)
		if kp.events > 0 && len(events) == kp.events {
			kill()
		}
	}
	err = cmd.Wait()
	ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() && ws.Signal() == syscall.SIGKILL {
		return events, !up
	}
	if err != nil {
		t.Fatalf("%s failed: %v\n%s", kp, err, tail(errb.text(), 3000))
	}
	return events, false
}

// progressOf reads a progress line of range up: JSON with --json, else
// the drawing progressLine makes, which starts with the step.
func progressOf(line string) (cyberrange.Progress, bool) {
	var p struct {
		Step   cyberrange.Step   `json:"step"`
		Name   string            `json:"name"`
		Kind   cyberrange.Kind   `json:"kind"`
		Action cyberrange.Action `json:"action"`
	}
	if json.Unmarshal([]byte(line), &p) == nil {
		return cyberrange.Progress{Step: p.Step, Name: p.Name, Kind: p.Kind, Action: p.Action}, p.Step != ""
	}
	f := strings.Fields(line)
	switch {
	case len(f) < 5:
	case f[0] == string(cyberrange.StepRemove), f[0] == string(cyberrange.StepNetworks),
		f[0] == string(cyberrange.StepTargets), f[0] == string(cyberrange.StepGateways):
		return cyberrange.Progress{Step: cyberrange.Step(f[0]), Action: cyberrange.Action(f[3]), Name: f[4]}, true
	}
	return cyberrange.Progress{}, false
}

// localProcesses maps every live process the local driver started for the
// range of data, recorded or not, to its container: the driver runs each
// in the container's own directory.
func localProcesses(t *testing.T, data string) map[int]string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join(data, rangeStateDir, "containers"))
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]string{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cwd, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
		if err != nil {
			continue
		}
		cwd = strings.TrimSuffix(cwd, " (deleted)")
		if filepath.Dir(cwd) != root {
			continue
		}
		if st, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil {
			if i := bytes.LastIndexByte(st, ')'); i > 0 && len(st) > i+2 && (st[i+2] == 'Z' || st[i+2] == 'X') {
				continue
			}
		}
		out[pid] = filepath.Base(cwd)
	}
	return out
}

// localRecorded maps each container of the local range of data to the
// pid its record names.
func localRecorded(t *testing.T, data string) map[string]int {
	t.Helper()
	dir := filepath.Join(data, rangeStateDir, "containers")
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, e := range entries {
		var rec struct {
			Process struct {
				Pid int `json:"pid"`
			} `json:"process"`
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "state.json"))
		if err != nil {
			continue
		}
		if err := json.Unmarshal(b, &rec); err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		out[e.Name()] = rec.Process.Pid
	}
	return out
}

// dockerLabelled lists the names of the containers and of the networks
// carrying the exercise's label, duplicates included (the engine lets two
// networks share a name).
func dockerLabelled(t *testing.T, exercise string) (containers, networks []string) {
	t.Helper()
	filter := "label=" + cyberrange.LabelExercise + "=" + exercise
	list := func(args ...string) []string {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		b, err := exec.CommandContext(ctx, "docker", args...).Output()
		if err != nil {
			t.Fatalf("docker %v: %v", args, err)
		}
		out := strings.Fields(string(b))
		slices.Sort(out)
		return out
	}
	return list("ps", "-a", "--filter", filter, "--format", "{{.Names}}"),
		list("network", "ls", "--filter", filter, "--format", "{{.Name}}")
}

// rangeIdentity describes what runs for the range: on the local driver
// each container's pid, on Docker each container's id, so that a restart
// of anything shows.
func rangeIdentity(t *testing.T, driver, exercise, data string) string {
	t.Helper()
	if driver == cyberrange.DriverLocal {
		return fmt.Sprint(localProcesses(t, data))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := exec.CommandContext(ctx, "docker", "ps", "-a", "--no-trunc", "--filter", "label="+cyberrange.LabelExercise+"="+exercise,
		"--format", "{{.ID}} {{.Names}} {{.Status}}").Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	for i, l := range lines {
		// "Up 3 seconds" changes by itself; whether it is up does not.
		if f := strings.Fields(l); len(f) >= 3 {
			lines[i] = f[0] + " " + f[1] + " " + f[2]
		}
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// checkRangeUp asserts the range of the report runs once: every planned
// container running, nothing started twice, nothing else labelled.
func checkRangeUp(t *testing.T, driver, exercise, data string, rep cyberrange.Report) {
	t.Helper()
	if !rep.Healthy || len(rep.Leftovers) > 0 {
		t.Fatalf("range not healthy after the restarts: %+v", rep)
	}
	var planned []string
	for _, c := range rep.Containers {
		planned = append(planned, c.Name)
	}
	slices.Sort(planned)
	if driver == cyberrange.DriverLocal {
		procs := localProcesses(t, data)
		rec := localRecorded(t, data)
		per := map[string][]int{}
		for pid, c := range procs {
			per[c] = append(per[c], pid)
		}
		for c, pids := range per {
			if !slices.Contains(planned, c) {
				t.Errorf("process %v of %s, which the plan does not have", pids, c)
			}
		}
		for _, c := range planned {
			if len(per[c]) != 1 || per[c][0] != rec[c] {
				t.Errorf("%s: processes %v, want exactly the recorded %d", c, per[c], rec[c])
			}
		}
		return
	}
	cons, nets := dockerLabelled(t, exercise)
	if !slices.Equal(cons, planned) {
		t.Errorf("containers %v, want exactly %v", cons, planned)
	}
	var want []string
	for _, n := range rep.Networks {
		want = append(want, n.Name)
	}
	for _, n := range nets {
		// The exercise's ingress network is the driver's own addition.
		if !slices.Contains(want, n) && !strings.HasSuffix(n, "-ingress") {
			t.Errorf("network %s, which the plan does not have", n)
		}
	}
	if d := duplicates(nets); len(d) > 0 {
		t.Errorf("networks made twice: %v", d)
	}
}

func duplicates(names []string) []string {
	var out []string
	for i := 1; i < len(names); i++ {
		if names[i] == names[i-1] && (len(out) == 0 || out[len(out)-1] != names[i]) {
			out = append(out, names[i])
		}
	}
	return out
}

// checkNothingLeft asserts that nothing of the range is left: no process
// on the local driver (recorded or not), nothing labelled on Docker.
func checkNothingLeft(t *testing.T, driver, exercise, data string) {
	t.Helper()
	if driver == cyberrange.DriverLocal {
		if left := localProcesses(t, data); len(left) > 0 {
			t.Fatalf("processes left after range down: %v", left)
		}
		entries, _ := os.ReadDir(filepath.Join(data, rangeStateDir, "containers"))
		if len(entries) > 0 {
			t.Fatalf("%d container records left after range down", len(entries))
		}
		return
	}
	if cons, nets := dockerLabelled(t, exercise); len(cons)+len(nets) > 0 {
		t.Fatalf("left after range down: containers %v, networks %v", cons, nets)
	}
}

// killLeftovers kills, when the test ends, every process the local
// driver started for the range of data that is still running: a failed
// case must leave nothing, whatever range down could find.
func killLeftovers(t *testing.T, data string) {
	t.Helper()
	t.Cleanup(func() {
		for pid := range localProcesses(t, data) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
}

// rangeDown takes the range down and checks that nothing is left.
func rangeDown(t *testing.T, scen, data, driver, exercise string) {
	t.Helper()
	waitUnlocked(t, data)
	if code, _, errs := cyrangeOut(t, "range", "down", scen, "--driver", driver, "--data", data); code != 0 {
		t.Fatalf("range down: exit %d: %s", code, errs)
	}
	checkNothingLeft(t, driver, exercise, data)
}

// TestChaosKillRangeUp kills `cyrange range up` with SIGKILL again and
// again, at progress events and at random moments, on the local driver
// and on Docker. Every restart adopts what the killed ones made: the range
// ends up with each planned container running once (on the local driver,
// each the process its record names), nothing started twice, `run`
// adopts it as it is, and range down — also right after a killed up —
// leaves no process and nothing labelled.
func TestChaosKillRangeUp(t *testing.T) {
	if testing.Short() {
		t.Skip("brings ranges up")
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("random kill points from seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	for _, driver := range []string{cyberrange.DriverLocal, cyberrange.DriverDocker} {
		t.Run(driver, func(t *testing.T) {
			// Up of the demo range reports 11 events: 5 networks, then 6
			// containers. Kills land among the networks, between the two
			// steps, among the containers (the last fixed point, which
			// leaves the restart below a range half made), and at random.
			points := []killPoint{{events: 2}, {events: 5}, {events: 6}, {events: 7, run: true}, {events: 8}}
			span, random := 600*time.Millisecond, 10
			if driver == cyberrange.DriverDocker {
				// Fewer: each up on the engine takes seconds.
				needDockerImage(t)
				points = []killPoint{{events: 5}, {events: 6, run: true}, {events: 7}}
				span, random = 8*time.Second, 2
			}
			last := points[len(points)-1]
			for i := range random {
				points = append(points, killPoint{delay: time.Duration(rng.Int64N(int64(span))), run: i%2 == 1})
			}
			dir := t.TempDir()
			name := fmt.Sprintf("chaos-up-%s-%d", driver, os.Getpid())
			scen := ownScenario(t, dir, "demo", name, func(sc *scenarios.Scenario) { sc.Tick = e2eTick })
			data := filepath.Join(dir, "data")
			if driver == cyberrange.DriverLocal {
				killLeftovers(t, data)
			}
			downAtCleanup(t, scen, data, driver)
			killed, downs := 0, 0
			for _, kp := range points {
				waitUnlocked(t, data)
				_, k := upKilled(t, scen, data, driver, kp)
				if k {
					killed++
					continue
				}
				// The up finished before the kill: take it down, so that
				// the next kill lands in a range being made.
				waitUnlocked(t, data)
				checkRangeUp(t, driver, name, data, rangeStatus(t, scen, data, driver))
				rangeDown(t, scen, data, driver, name)
				downs++
			}
			// One more killed up, then down straight after it: down
			// finds everything a killed up made.
			waitUnlocked(t, data)
			if _, k := upKilled(t, scen, data, driver, killPoint{events: 7}); k {
				killed++
			}
			rangeDown(t, scen, data, driver, name)
			downs++
			for _, kp := range []killPoint{{events: 5}, last} {
				waitUnlocked(t, data)
				if _, k := upKilled(t, scen, data, driver, kp); k {
					killed++
				}
			}

			// The restart: an up that finishes, adopting what is there.
			waitUnlocked(t, data)
			events, _ := upKilled(t, scen, data, driver, killPoint{})
			adopted, made := 0, 0
			for _, e := range events {
				if e.Kind == cyberrange.KindNetwork {
					continue
				}
				if e.Action == cyberrange.ActionAdopt {
					adopted++
				} else {
					made++
				}
			}
			rep := rangeStatus(t, scen, data, driver)
			checkRangeUp(t, driver, name, data, rep)

			// run adopts it as it is: nothing restarted, nothing added.
			before := rangeIdentity(t, driver, name, data)
			s := startExercise(t, scen, data, driver)
			s.stop(t)
			if after := rangeIdentity(t, driver, name, data); after != before {
				t.Fatalf("run changed the range it should have adopted:\nbefore %s\nafter  %s", before, after)
			}
			rangeDown(t, scen, data, driver, name)
			figure(t, "range up killed (%s): %d SIGKILLs of range up and run while they brought the range up, %d downs of what they left; the restart adopted %d containers and made %d, run adopted all %d; 0 started twice, 0 left after range down",
				driver, killed, downs, adopted, made, len(rep.Containers))
		})
	}
}

// dockerState is a container's running state and start time.
func dockerState(t *testing.T, name string) (bool, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b, err := exec.CommandContext(ctx, "docker", "inspect", "-f", "{{.State.Running}} {{.State.StartedAt}}", name).Output()
	if err != nil {
		t.Fatalf("docker inspect %s: %v", name, err)
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		t.Fatalf("docker inspect %s: %q", name, b)
	}
	return f[0] == "true", f[1]
}

// dockerKill kills a container as the engine's CLI does, and waits until
// the range's watch has started it again.
func dockerKill(t *testing.T, s *server, name string) {
	t.Helper()
	_, started := dockerState(t, name)
	if out, err := exec.Command("docker", "kill", name).CombinedOutput(); err != nil {
		t.Fatalf("docker kill %s: %v %s", name, err, out)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		running, again := dockerState(t, name)
		if running && again != started {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s was not started again after docker kill; log:\n%s", name, tail(s.logs.text(), 3000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestChaosDockerKill kills the target and then a team's gateway with
// docker kill, each in the middle of a tick, under a running exercise on
// Docker. The range's watch starts each again, the checker finds the
// replica OK again within a few ticks, the game goes on ticking, the team
// captures through its gateway again, and nothing acknowledged is lost.
func TestChaosDockerKill(t *testing.T) {
	if testing.Short() {
		t.Skip("an exercise runs for tens of seconds")
	}
	needDockerImage(t)
	dir := t.TempDir()
	name := fmt.Sprintf("chaos-kill-%d", os.Getpid())
	scen := shortScenario(t, dir, "demo", name)
	data := filepath.Join(dir, "data")
	sc, err := scenarios.Open(scen)
	if err != nil {
		t.Fatal(err)
	}
	downAtCleanup(t, scen, data, cyberrange.DriverDocker)
	s := startExercise(t, scen, data, cyberrange.DriverDocker)
	gameAction(t, data, "start")
	toks := readTokens(t, data)
	var team *attackTeam
	defence := ""
	for _, tm := range toks.Teams {
		switch {
		case tm.Role == "attack" && team == nil:
			team = &attackTeam{name: tm.Name, token: tm.Token, sent: map[string]bool{}}
		case tm.Role == "defence":
			defence = tm.Name
		}
	}
	svc := sc.Services[0]
	ports := map[string]int{}
	for _, p := range svc.Ports {
		ports[p.Name] = p.Number
	}
	domain := svc.Options.String("domain", "")
	waitOK(t, s, defence, svc.Name, 0)
	capture := func(what string) int {
		t.Helper()
		deadline := time.Now().Add(3 * time.Minute)
		for {
			n, err := attackRound(t, s, team, ports, domain)
			if n > 0 {
				return n
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %s captured nothing (%v); log:\n%s", what, team.name, err, tail(s.logs.text(), 3000))
			}
			time.Sleep(time.Second)
		}
	}
	capture("before the faults")

	// The target, mid-tick.
	target := fmt.Sprintf("cyrange-%s-%s-%s", name, svc.Name, "d01")
	killTick := nextTick(t, s)
	dockerKill(t, s, target)
	okTick, seen := waitOK(t, s, defence, svc.Name, killTick)
	afterTarget := capture("after the target's restart")

	// The team's gateway, mid-tick.
	gateway := fmt.Sprintf("cyrange-%s-gateway-%s", name, "a01")
	gwTick := nextTick(t, s)
	dockerKill(t, s, gateway)
	afterGateway := capture("after the gateway's restart")

	// Every flag the team was told OK counts, once; the standings are a
	// fold of the log.
	var v scoreboardView
	getJSON(t, "http://"+s.http+"/api/v1/scoreboard", "", &v)
	endGame(t, s.http, toks.Organizer)
	var live struct {
		Standings []map[string]any `json:"standings"`
	}
	getJSON(t, "http://"+s.http+"/api/v1/admin/scoreboard", toks.Organizer, &live)
	for _, st := range live.Standings {
		if st["team"] == team.name && int(st["captures"].(float64)) != len(team.acked) {
			t.Fatalf("%s: %v captures in the standings, %d flags acknowledged", team.name, st["captures"], len(team.acked))
		}
	}
	s.stop(t)
	replayMatches(t, data, live.Standings)
	rangeDown(t, scen, data, cyberrange.DriverDocker, name)
	figure(t, "docker kill: target killed in tick %d, restarted by the watch, checker OK again in tick %d (%d ticks; statuses between: %v), %d flags captured after; gateway killed in tick %d, team captured %d flags through it again; game ticked on to %d; 0 of %d acknowledged flags lost, replay = standings",
		killTick, okTick, okTick-killTick, seen, afterTarget, gwTick, afterGateway, v.Tick, len(team.acked))
}
