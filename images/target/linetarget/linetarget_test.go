package linetarget

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/cyrange/cyrange/images/target"
	"github.com/cyrange/cyrange/scenarios"
	"github.com/cyrange/cyrange/scoreboard/checks"
)

// lockedBuffer collects a role's output across goroutines.
type lockedBuffer struct {
	ch chan []byte
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.ch <- append([]byte(nil), p...)
	return len(p), nil
}

// startServer runs the role on loopback ports it picks and returns the
// line and admin addresses and the operator's password.
func startServer(t *testing.T, args ...string) (line, admin, password string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	free := func() int {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().(*net.TCPAddr).Port
	}
	lp, ap := free(), free()
	stderr := &lockedBuffer{ch: make(chan []byte, 16)}
	done := make(chan error, 1)
	go func() {
		done <- New().RunTarget(ctx, append([]string{"--listen", "127.0.0.1", "--line-port", fmt.Sprint(lp),
			"--admin-port", fmt.Sprint(ap), "--admin-allow", "127.0.0.0/8"}, args...), io.Discard, stderr)
	}()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case b := <-stderr.ch:
		p, ok := New().OperatorPassword(string(b))
		if !ok {
			t.Fatalf("no password in %q", b)
		}
		return fmt.Sprint("127.0.0.1:", lp), fmt.Sprint("127.0.0.1:", ap), p
	case err := <-done:
		t.Fatalf("the role ended: %v", err)
	}
	return "", "", ""
}

// TestWeaknessExploitRemedy: the checker plants and gets a flag, the
// exploit dumps it, the remedy stops the exploit and the checker stays OK.
func TestWeaknessExploitRemedy(t *testing.T) {
	line, admin, password := startServer(t)
	host, port, _ := net.SplitHostPort(line)
	var lp int
	fmt.Sscan(port, &lp)
	c, err := New().NewChecker(target.CheckerConfig{Secret: "s", Ports: map[string]int{"line": lp}, Replicas: map[string]string{host: "r"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	flag := "ABCDEFGHIJKLMNOPQRSTUVWXYZ01234="
	task := checks.Task{Method: checks.PutFlag, Address: host, Flag: checks.Str(flag), TaskChainID: "flag_s0_r1_t0_i0"}
	if res, err := c.Run(ctx, task); err != nil || res.Result != checks.OK || res.AttackInfo == nil {
		t.Fatalf("putflag: %+v %v", res, err)
	}
	task.Method = checks.GetFlag
	if res, err := c.Run(ctx, task); err != nil || res.Result != checks.OK {
		t.Fatalf("getflag: %+v %v", res, err)
	}
	w := New().Weaknesses()[0]
	r := target.Replica{Host: host, Ports: map[string]int{"line": lp}}
	if got, err := w.Exploit(ctx, &net.Dialer{}, r); err != nil || len(got) != 1 || got[0] != flag {
		t.Fatalf("exploit: %v %v", got, err)
	}
	if err := New().Remedy(ctx, target.Console{URL: "http://" + admin, Password: "wrong"}, DebugDump); err == nil {
		t.Fatal("a wrong operator password applied the remedy")
	}
	if err := New().Remedy(ctx, target.Console{URL: "http://" + admin, Password: password}, DebugDump); err != nil {
		t.Fatalf("remedy: %v", err)
	}
	if got, err := w.Exploit(ctx, &net.Dialer{}, r); err == nil || len(got) != 0 {
		t.Fatalf("exploit after the remedy: %v %v", got, err)
	}
	if res, err := c.Run(ctx, task); err != nil || res.Result != checks.OK {
		t.Fatalf("getflag after the remedy: %+v %v", res, err)
	}
	// A task for an address that is no replica is refused unsent.
	task.Address = "127.0.0.2"
	if res, _ := c.Run(ctx, task); res.Result != checks.InternalError {
		t.Fatalf("a foreign address: %+v", res)
	}
}

// TestAdminConsoleRefusesOutsiders: only the allowed networks reach the
// console.
func TestAdminConsoleRefusesOutsiders(t *testing.T) {
	_, admin, password := startServer(t, "--admin-allow", "10.0.0.0/8")
	req, _ := http.NewRequest(http.MethodPost, "http://"+admin+"/remedy?weakness="+DebugDump, nil)
	req.SetBasicAuth("operator", password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("status %s", resp.Status)
	}
}

// TestCommands: the line protocol's answers, and a line too long ends the
// connection.
func TestCommands(t *testing.T) {
	line, _, _ := startServer(t, "--weaknesses", "none", "--slots", "1")
	c, err := net.Dial("tcp", line)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	rd := bufio.NewReader(c)
	for _, step := range [][2]string{
		{"PUT a s1 v1", "OK"}, {"GET a s1", "VALUE v1"}, {"GET a nope", "ERR denied"},
		{"PUT b s2 v2", "OK"}, {"GET a s1", "ERR denied"}, // one slot: a is gone
		{"DUMP", "ERR unknown command"}, {"PUT x", "ERR usage: PUT KEY SECRET VALUE"},
	} {
		fmt.Fprintln(c, step[0])
		got, err := rd.ReadString('\n')
		if err != nil || strings.TrimSpace(got) != step[1] {
			t.Fatalf("%s: %q %v, want %q", step[0], got, err, step[1])
		}
	}
	fmt.Fprintln(c, strings.Repeat("x", maxLine+10))
	if _, err := rd.ReadString('\n'); err == nil {
		t.Fatal("an oversized line was answered")
	}
}

func TestCheckOptions(t *testing.T) {
	for _, c := range []struct {
		o    scenarios.Options
		want string
	}{
		{scenarios.Options{"slots": 10}, ""},
		{scenarios.Options{"slots": 0}, "slots: must be a whole number"},
		{scenarios.Options{"slots": "many"}, "slots: must be a whole number"},
		{scenarios.Options{"colour": "red"}, "colour: is not an option"},
	} {
		var got []string
		for _, p := range New().CheckOptions(c.o) {
			got = append(got, p.Key+": "+p.Msg)
		}
		if (c.want == "") != (len(got) == 0) || c.want != "" && !strings.HasPrefix(strings.Join(got, "; "), c.want) {
			t.Errorf("%v: %v, want %q", c.o, got, c.want)
		}
	}
}

// FuzzReadLine: whatever the service prints, a remedy comes only from the
// admin port and an action has a message and an action.
func FuzzReadLine(f *testing.F) {
	f.Add([]byte(`{"msg":"settings saved","proto":"admin","action":"settings","changes":"debug_dump: on -> off"}`))
	f.Add([]byte(`{"msg":"debug dump","proto":"line","src":"127.0.0.1:5","action":"dump"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, ok := New().ReadLine(b)
		if !ok {
			return
		}
		if l.Msg == "" || l.Action == "" || l.Remedy != "" && l.Proto != "admin" {
			t.Fatalf("%q read as %+v", b, l)
		}
	})
}

// FuzzExploitReader: the exploit reads a server's answer, which a
// defender could shape, without failing on any of it.
func FuzzExploitReader(f *testing.F) {
	f.Add([]byte("n1 ABCDEFGHIJKLMNOPQRSTUVWXYZ01234=\nEND\n"))
	f.Add([]byte("ERR unknown command\n"))
	re := regexp.MustCompile(`^[A-Z0-9]{31}=$`)
	f.Fuzz(func(t *testing.T, b []byte) {
		flags, _ := dumpNotes(context.Background(), pipeDialer{b}, target.Replica{Host: "x"})
		for _, fl := range flags {
			if !re.MatchString(fl) {
				t.Fatalf("not a flag: %q", fl)
			}
		}
	})
}

// pipeDialer answers every dial with a connection that serves answer.
type pipeDialer struct{ answer []byte }

func (p pipeDialer) DialContext(context.Context, string, string) (net.Conn, error) {
	a, b := net.Pipe()
	go func() {
		io.Copy(io.Discard, io.LimitReader(b, 5))
		b.Write(p.answer)
		b.Close()
	}()
	return a, nil
}
