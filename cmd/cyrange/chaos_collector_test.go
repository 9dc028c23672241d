package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cyrange/cyrange/images/mailserver/contract"
	"github.com/cyrange/cyrange/images/mailserver/webclient"
	cyberrange "github.com/cyrange/cyrange/range"
	"github.com/cyrange/cyrange/scenarios"
	"github.com/cyrange/cyrange/scoreboard/checks"
	"github.com/cyrange/cyrange/scoreboard/tokens"
)

// relay is a listener posing as a replica on a player's address: it
// passes every connection on to the real replica and records what the
// client sent.
type relay struct {
	mu    sync.Mutex
	conns int
	sent  bytes.Buffer
	lns   []net.Listener
	open  map[net.Conn]bool
	wg    sync.WaitGroup
}

func (r *relay) listen(t *testing.T, at, to string) {
	t.Helper()
	ln, err := net.Listen("tcp", at)
	if err != nil {
		t.Fatal(err)
	}
	r.lns = append(r.lns, ln)
	r.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r.mu.Lock()
			r.conns++
			if r.open == nil {
				r.open = map[net.Conn]bool{}
			}
			r.open[c] = true
			r.mu.Unlock()
			r.wg.Go(func() {
				r.pass(c, to)
				r.mu.Lock()
				delete(r.open, c)
				r.mu.Unlock()
			})
		}
	})
}

func (r *relay) pass(c net.Conn, to string) {
	defer c.Close()
	up, err := net.DialTimeout("tcp", to, 10*time.Second)
	if err != nil {
		return
	}
	defer up.Close()
	r.wg.Go(func() {
		io.Copy(c, up)
		c.Close()
	})
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			r.mu.Lock()
			r.sent.Write(buf[:n])
			r.mu.Unlock()
			up.Write(buf[:n])
		}
		if err != nil {
			return
		}
	}
}

// close stops listening, ends the connections still open and waits for
// its goroutines.
func (r *relay) close() {
	for _, ln := range r.lns {
		ln.Close()
	}
	r.mu.Lock()
	for c := range r.open {
		c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}

// received is everything clients sent the relay, and each line decoded
// from base64 where it is base64 (SMTP AUTH carries credentials so).
func (r *relay) received() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	b.Write(r.sent.Bytes())
	for _, line := range strings.Split(r.sent.String(), "\n") {
		for _, f := range strings.Fields(line) {
			if d, err := base64.StdEncoding.DecodeString(f); err == nil {
				b.WriteString("\n")
				b.Write(d)
			}
		}
	}
	return b.String()
}

// TestChaosCheckerCollector aims the range's checker at a listener of an
// attack team's own, posing as a replica (issue 11 item 10): a hostile
// caller sends it tasks directly naming the listener's address, without
// the game's credentials and then with them. The checker must refuse
// every one, never connect to the listener, and nothing secret — the
// checker secret, a mailbox's master password — may reach it.
func TestChaosCheckerCollector(t *testing.T) {
	if testing.Short() {
		t.Skip("brings a local range up")
	}
	dir := t.TempDir()
	scen := ownScenario(t, dir, "demo", "chaos-collector", nil)
	data := filepath.Join(dir, "data")
	sc, err := scenarios.Open(scen)
	if err != nil {
		t.Fatal(err)
	}
	killLeftovers(t, data)
	downAtCleanup(t, scen, data, cyberrange.DriverLocal)
	if code, _, errs := cyrangeOut(t, "range", "up", scen, "--driver", "local", "--data", data); code != 0 {
		t.Fatalf("range up: %d %s", code, errs)
	}
	plan, err := rangePlan(sc, data, cyberrange.DriverLocal, "", false)
	if err != nil {
		t.Fatal(err)
	}
	defenceIdx := slices.IndexFunc(sc.Teams, func(tm scenarios.Team) bool { return tm.Role.CanDefend() })
	replica := plan.Placement().ReplicaAddress(defenceIdx, 0)
	checker, ok := plan.CheckerURL("mailserver")
	if !ok {
		t.Fatal("no checker in the plan")
	}
	secretB, err := os.ReadFile(filepath.Join(data, tokens.CheckerSecretFile))
	if err != nil {
		t.Fatal(err)
	}
	secret := strings.TrimSpace(string(secretB))

	// The listener: an address of team a01's own network, on the ports the
	// checker uses, passing everything on to the real replica.
	a := sc.Network.Local.Teams.Addr().As4()
	a[2], a[3] = 1, 50
	at := netip.AddrFrom4(a).String()
	r := &relay{}
	defer r.close()
	for _, p := range sc.Services[0].Ports {
		port := strconv.Itoa(p.Number + cyberrange.LocalPortOffset)
		r.listen(t, net.JoinHostPort(at, port), net.JoinHostPort(replica, port))
	}

	// The hostile caller: the enochecker tasks a game would send, for the
	// listener's address, with no credentials.
	stores := contract.Stores()
	flag := "CHAOSCOLLECTOR0000000000000000A="
	var tasks []checks.Task
	for v := range stores {
		for _, m := range []checks.Method{checks.PutFlag, checks.GetFlag} {
			tasks = append(tasks, checks.Task{Method: m, VariantID: v, Flag: &flag,
				TaskChainID: checks.ChainID("flag", 0, 1, defenceIdx, v)})
		}
	}
	tasks = append(tasks, checks.Task{Method: checks.PutNoise, TaskChainID: checks.ChainID("noise", 0, 1, defenceIdx, 0)},
		checks.Task{Method: checks.Havoc, TaskChainID: checks.ChainID("havoc", 0, 1, defenceIdx, 0)})
	accepted := 0
	client := &http.Client{Timeout: time.Minute}
	// Each task twice: from a stranger, and with the game's own token (as
	// if it had leaked, or the game were misled): the address alone must
	// keep the checker away from the listener.
	var sends []checks.Task
	var tokens []string
	for _, tok := range []string{"", checks.CallerToken(secret)} {
		for _, task := range tasks {
			sends, tokens = append(sends, task), append(tokens, tok)
		}
	}
	for i, task := range sends {
		task.TaskID, task.Address, task.TeamID, task.TeamName = int64(900+i), at, defenceIdx, sc.Teams[defenceIdx].Name
		task.CurrentRoundID, task.RelatedRoundID, task.Timeout, task.RoundLength = 1, 1, 20000, 60000
		body, _ := json.Marshal(task)
		req, _ := http.NewRequest(http.MethodPost, checker+"/", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if tokens[i] != "" {
			req.Header.Set("Authorization", "Bearer "+tokens[i])
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("the checker: %v", err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		// Run means answered with a verdict on the replica; a refusal
		// is any other answer (an HTTP error, or an internal error that
		// blames nobody).
		var res checks.TaskResult
		if resp.StatusCode/100 == 2 && json.Unmarshal(b, &res) == nil && res.Result.Valid() && res.Result != checks.InternalError {
			accepted++
		}
		t.Logf("%s variant %d: %s %s", task.Method, task.VariantID, resp.Status, bytes.TrimSpace(b))
	}
	r.close()

	// What reached the listener, against every mailbox's master password.
	web := ""
	for _, p := range sc.Services[0].Ports {
		if p.Name == "http" {
			web = net.JoinHostPort(replica, strconv.Itoa(p.Number+cyberrange.LocalPortOffset))
		}
	}
	dirc, err := webclient.New("http://"+web, nil).Directory(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := r.received()
	replicaName := cyberrange.TargetName(sc.Services[0].Name, sc.Teams[defenceIdx].Short)
	var leaked []string
	for _, ct := range dirc {
		if strings.Contains(got, contract.MasterPassword(secret, replicaName, ct.Email)) {
			leaked = append(leaked, ct.Email)
		}
	}
	secretLeaked := strings.Contains(got, secret)
	r.mu.Lock()
	conns, bytesIn := r.conns, r.sent.Len()
	r.mu.Unlock()
	figure(t, "checker collector: %d hostile tasks (half without credentials, half with the game's token) aimed at a listener, %d run; the checker opened %d connections to the listener, sent it %d bytes, the master passwords of %d mailboxes, the checker secret: %v",
		len(sends), accepted, conns, bytesIn, len(leaked), secretLeaked)
	var problems []string
	if conns > 0 {
		problems = append(problems, fmt.Sprintf("the checker connected to the listener %d times", conns))
	}
	if accepted > 0 {
		problems = append(problems, fmt.Sprintf("%d of %d tasks aimed at the listener were run", accepted, len(sends)))
	}
	if len(leaked) > 0 {
		problems = append(problems, fmt.Sprintf("master passwords of %v reached the listener", leaked))
	}
	if secretLeaked {
		problems = append(problems, "the checker secret reached the listener")
	}
	if len(problems) > 0 {
		t.Fatal(strings.Join(problems, "; "))
	}
}
