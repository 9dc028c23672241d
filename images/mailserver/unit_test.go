package mailserver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/cyrange/cyrange/images/flow"
	"github.com/cyrange/cyrange/images/mailserver/contract"
	"github.com/cyrange/cyrange/images/mailserver/corpus"
	"github.com/cyrange/cyrange/images/target/targettest"
)

func TestDirectoryShape(t *testing.T) {
	for _, n := range []int{MinAccounts, 1200, 11200} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			d, err := newDirectory(rand.New(rand.NewPCG(3, 4)), DefaultDomain, n)
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Accounts) != n {
				t.Fatalf("%d accounts, want %d", len(d.Accounts), n)
			}
			seen := map[string]bool{}
			for i, a := range d.Accounts {
				if a.Index != i || seen[a.Addr] || a.Addr != a.Local+"@"+DefaultDomain || strings.ContainsAny(a.Local, " @Đđàáạảãâăèéêìíòóôơùúưỳýỷỹữựừửứ") {
					t.Fatalf("bad account %d: %+v", i, a)
				}
				seen[a.Addr] = true
				if got, ok := d.Lookup(strings.ToUpper(a.Addr)); !ok || got != a {
					t.Fatalf("lookup %s", a.Addr)
				}
			}
			if len(d.Leaders) != 4 || !strings.HasPrefix(d.Leaders[0].Title, "Chủ tịch") {
				t.Fatalf("leaders: %v", d.Leaders)
			}
			for _, l := range d.Leaders {
				sec, ok := d.Lookup(l.Forward)
				if !ok || sec.Role != RoleSecretary || sec.Listed {
					t.Errorf("leader %s forwards to %q", l.Addr, l.Forward)
				}
			}
			kinds := map[string]int{}
			for _, a := range d.Agencies {
				kinds[a.Kind]++
				if a.Clerk == nil || a.Clerk.Local != "vanthu."+a.Code || !a.Clerk.Listed {
					t.Errorf("agency %s has no clerk", a.Name)
				}
				if a.Kind != KindProvince && a.Head == nil {
					t.Errorf("agency %s has no head", a.Name)
				}
			}
			if kinds[KindDepartment] != 20 || kinds[KindDistrict] < 2 || kinds[KindCommune] < 3 {
				t.Errorf("agency kinds: %v", kinds)
			}
		})
	}
	if _, err := newDirectory(rand.New(rand.NewPCG(1, 1)), DefaultDomain, MinAccounts-1); err == nil {
		t.Error("a directory below the minimum was built")
	}
}

func TestSameSeedSameProvince(t *testing.T) {
	a, _ := New(Config{Accounts: 500, Seed: 9})
	b, _ := New(Config{Accounts: 500, Seed: 9})
	c, _ := New(Config{Accounts: 500, Seed: 10})
	for i := range a.dir.Accounts {
		if a.dir.Accounts[i].Addr != b.dir.Accounts[i].Addr {
			t.Fatalf("account %d differs between runs of one seed", i)
		}
	}
	if a.dir.Leaders[0].Addr == c.dir.Leaders[0].Addr && a.dir.Accounts[200].Addr == c.dir.Accounts[200].Addr {
		t.Error("two seeds gave the same province")
	}
	leader := a.dir.Leaders[0]
	ga := a.store.gen.mailbox(leader, a.store.start)
	gb := b.store.gen.mailbox(leader, a.store.start)
	if len(ga) < 30 || !bytes.Equal(ga[0].raw, gb[0].raw) {
		t.Error("generated mail differs between runs of one seed")
	}
}

func TestPasswordsAsPlanted(t *testing.T) {
	weak, _ := New(Config{Accounts: 300, Seed: 2, Weaknesses: map[string]bool{contract.WeakPassword: true}})
	strong, _ := New(Config{Accounts: 300, Seed: 2})
	src := netip.MustParseAddr("10.0.0.1")
	for i, l := range weak.dir.Leaders {
		ok := false
		for _, pw := range corpus.ObviousPasswords(l.Local, weak.dir.ProvinceWord) {
			ok = ok || weak.sec.checkUser(l, l.Addr, pw, src) == loginOK
			if strong.sec.checkUser(strong.dir.Leaders[i], l.Addr, pw, src) == loginOK {
				t.Errorf("leader %s has an obvious password without the weakness", l.Addr)
			}
		}
		if !ok {
			t.Errorf("leader %s has no obvious password with the weakness", l.Addr)
		}
		sec, _ := weak.dir.Lookup(l.Forward)
		if weak.sec.checkUser(sec, sec.Addr, weak.InitialPassword(), src) != loginOK {
			t.Errorf("secretary %s does not have the initial password", sec.Addr)
		}
	}
	footholds := 0
	for _, a := range weak.dir.Agencies {
		if a.Kind == KindCommune && weak.sec.checkUser(a.Clerk, a.Clerk.Addr, weak.InitialPassword(), src) == loginOK {
			footholds++
		}
	}
	if footholds < 3 {
		t.Errorf("%d commune clerks with the initial password", footholds)
	}
	clerk, _ := weak.dir.Lookup("vanthu.vpubnd")
	words := corpus.CommonPasswords()
	found := -1
	for i, w := range words {
		from := netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}) // no lockout in the way
		if weak.sec.checkUser(clerk, clerk.Addr, w, from) == loginOK {
			found = i
			break
		}
	}
	if found < 80 {
		t.Errorf("office clerk's password at wordlist position %d", found)
	}
}

func TestLockoutAndMasterPassword(t *testing.T) {
	now := time.Date(2024, 10, 1, 8, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	s, err := New(Config{Accounts: MinAccounts, CheckerSecret: "s3cret", Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	acct := s.dir.Accounts[10]
	s.sec.setPassword(acct, "Right-Password-1")
	attacker, other := netip.MustParseAddr("10.0.3.7"), netip.MustParseAddr("10.0.4.9")
	for range 5 {
		if r := s.sec.checkUser(acct, acct.Addr, "wrong", attacker); r != loginBadPassword {
			t.Fatalf("bad password gave %v", r)
		}
	}
	if r := s.sec.checkUser(acct, acct.Addr, "Right-Password-1", attacker); r != loginLocked {
		t.Errorf("locked source logged in: %v", r)
	}
	if r := s.sec.checkUser(acct, acct.Addr, "Right-Password-1", other); r != loginOK {
		t.Errorf("another source refused: %v", r)
	}
	if r := s.sec.checkUser(acct, acct.Addr, contract.MasterPassword("s3cret", "", acct.Addr), attacker); r != loginOK {
		t.Errorf("master password refused for a locked source: %v", r)
	}
	for range 5 {
		s.sec.checkUser(acct, acct.Addr, "wrong", attacker)
	}
	if r := s.sec.checkUser(acct, acct.Addr, contract.MasterPassword("other", "", acct.Addr), other); r == loginOK {
		t.Error("a master password of another secret works")
	}
	advance(16 * time.Minute)
	if r := s.sec.checkUser(acct, acct.Addr, "Right-Password-1", attacker); r != loginOK {
		t.Errorf("lock did not expire: %v", r)
	}
	// With the lockout off (the weakness), failures never lock.
	s.sec.update(func(st *Settings) { st.Lockout = false })
	for range 50 {
		s.sec.checkUser(acct, acct.Addr, "wrong", attacker)
	}
	if r := s.sec.checkUser(acct, acct.Addr, "Right-Password-1", attacker); r != loginOK {
		t.Errorf("no lockout, yet refused: %v", r)
	}
	if r := s.sec.checkUser(nil, "ghost", "x", attacker); r != loginUnknownUser {
		t.Errorf("unknown user: %v", r)
	}
	if r := s.sec.checkAdmin(OperatorUser, s.OperatorPassword(), attacker, false); r == loginOK {
		t.Error("operator logged in outside the admin port")
	}
	if r := s.sec.checkAdmin(OperatorUser, s.OperatorPassword(), attacker, true); r != loginOK {
		t.Errorf("operator refused on the admin port: %v", r)
	}
}

func TestRunTarget(t *testing.T) {
	var stdout, stderr targettest.Output
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- RunTarget(ctx, []string{"--listen", "127.0.0.1", "--smtp-port", "0", "--imap-port", "0", "--http-port", "0",
			"--admin-port", "0", "--accounts", "200", "--seed", "3", "--weaknesses", "smtp_vrfy,no_lockout", "--checker-secret", "x"}, &stdout, &stderr)
	}()
	var smtpAddr string
	for deadline := time.Now().Add(10 * time.Second); smtpAddr == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for line := range strings.Lines(stdout.String()) {
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil && m["action"] == "start" {
				smtpAddr, _ = m["smtp"].(string)
			}
		}
	}
	if smtpAddr == "" {
		cancel()
		t.Fatalf("no start line: %s %s", stdout.String(), stderr.String())
	}
	c, err := smtp.Dial(smtpAddr)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Hello("x"); err != nil {
		t.Fatal(err)
	}
	_ = c.Quit()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("RunTarget: %v", err)
	}
	if !strings.Contains(stderr.String(), "operator password") {
		t.Errorf("the generated operator password was not printed: %q", stderr.String())
	}
	if strings.Contains(stdout.String(), "operator password") {
		t.Error("the operator password went to the action log")
	}
	// Every line of the action log has the keys the defence console reads;
	// the flow records of the connections accepted are lines of their own.
	sc := bufio.NewScanner(strings.NewReader(stdout.String()))
	opened := 0
	for sc.Scan() {
		if r, ok, err := flow.ParseLine(sc.Bytes()); ok {
			if err != nil {
				t.Errorf("flow line %s: %v", sc.Text(), err)
			}
			if r.State == flow.Open && r.Dst.String() == smtpAddr {
				opened++
			}
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not JSON: %q", sc.Text())
		}
		for _, k := range []string{"time", "level", "msg", "proto", "src", "user", "action"} {
			if _, ok := m[k]; !ok {
				t.Errorf("line without %q: %s", k, sc.Text())
			}
		}
	}
	if opened != 1 {
		t.Errorf("%d flow records of the SMTP connection opening, want 1", opened)
	}
}

func TestRunTargetBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--weaknesses", "sql_injection"},
		{"--admin-allow", "10.0.0.0/33"},
		{"--accounts", "5"},
		{"extra"},
	} {
		err := RunTarget(context.Background(), args, io.Discard, io.Discard)
		if err == nil {
			t.Errorf("%v accepted", args)
		}
	}
	if err := RunTarget(context.Background(), []string{"-h"}, io.Discard, io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
}
