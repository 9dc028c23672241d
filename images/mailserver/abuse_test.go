package mailserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/cyrange/cyrange/images/mailserver/contract"
	"github.com/cyrange/cyrange/images/mailserver/webclient"
)

// heap is the live heap after a full collection.
func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// sendAnon sends raw from outside, unauthenticated, to rcpts and returns
// the server's refusal (nil when delivered).
func sendAnon(t *testing.T, d *net.Dialer, addr string, rcpts []string, raw []byte) error {
	t.Helper()
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := smtp.NewClient(conn)
	defer c.Close()
	if err := c.Hello("spam.example.org"); err != nil {
		t.Fatal(err)
	}
	err = c.SendMail("news@example.org", rcpts, bytes.NewReader(raw))
	if err == nil {
		_ = c.Quit()
	}
	return err
}

// sendMaster sends raw as the checker does: authenticated with the
// mailbox's master password, from the checkers' own address.
func sendMaster(t *testing.T, addr, secret string, from *Account, rcpts []string, raw []byte) error {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("PC-VPUBND-02"); err != nil {
		t.Fatal(err)
	}
	if err := c.Auth(sasl.NewPlainClient("", from.Addr, contract.MasterPassword(secret, "", from.Addr))); err != nil {
		t.Fatalf("master auth: %v", err)
	}
	err = c.SendMail(from.Addr, rcpts, bytes.NewReader(raw))
	if err == nil {
		_ = c.Quit()
	}
	return err
}

func smtpCode(err error) int {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

// bulk is a message of about n bytes.
func bulk(n int) []byte {
	var b bytes.Buffer
	b.WriteString("From: news@example.org\r\nSubject: Thong bao\r\nMessage-ID: <bulk@example.org>\r\n\r\n")
	line := strings.Repeat("A", 76) + "\r\n"
	for b.Len() < n {
		b.WriteString(line)
	}
	return b.Bytes()
}

// findByMessageID logs in to acct's INBOX as the checker and reports
// whether a message with the given Message-ID is there.
func findByMessageID(t *testing.T, ts *testServer, acct *Account, id string) bool {
	t.Helper()
	ic := dialIMAP(t, ts.AddrIMAP())
	if err := ic.Login(acct.Addr, contract.MasterPassword(testSecret, "", acct.Addr)).Wait(); err != nil {
		t.Fatalf("master login: %v", err)
	}
	if _, err := ic.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	res, err := ic.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Message-ID", Value: id}}}, nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	_ = ic.Logout().Wait()
	return len(res.AllUIDs()) > 0
}

// TestAnonymousFillKeepsMemoryBounded is the fill attack of issue 11: 20
// anonymous messages of 9 MB to one leader (6 under -race, still well past
// the bound without quotas). The server refuses what its quotas do not
// hold, its heap stays far below the container's 512 MiB, and the checker
// still plants and finds its flag in that mailbox.
func TestAnonymousFillKeepsMemoryBounded(t *testing.T) {
	ts := startServer(t)
	leader := ts.dir.Leaders[0]
	raw := bulk(9 << 20)
	n := 20
	if raceDetector {
		n = 6
	}
	before := heap()
	var refused []int
	for range n {
		if err := sendAnon(t, fromAddr("127.0.0.2"), ts.AddrSMTP(), []string{leader.Addr}, raw); err != nil {
			code := smtpCode(err)
			if code != 452 && code != 552 {
				t.Fatalf("refused with %v, want 452 or 552", err)
			}
			refused = append(refused, code)
		}
	}
	grown := int64(heap()) - int64(before)
	t.Logf("heap grew by %d MiB; %d of %d messages refused", grown>>20, len(refused), n)
	if grown > 48<<20 {
		t.Errorf("heap grew by %d MiB under the fill attack, want under 48 MiB", grown>>20)
	}
	if len(refused) == 0 {
		t.Error("no message refused")
	}
	flag := "From: <x>\r\nSubject: Giay moi\r\nMessage-ID: <1700000000000.flagtag01@lachong.gov.vn>\r\n\r\nMa ho so: FLAG\r\n"
	head := ts.dir.Agencies[1].Head
	if err := sendMaster(t, ts.AddrSMTP(), testSecret, head, []string{leader.Addr}, []byte(flag)); err != nil {
		t.Fatalf("the checker's message was refused: %v", err)
	}
	if !findByMessageID(t, ts, leader, "flagtag01") {
		t.Error("the checker's message is not in the leader's INBOX")
	}
	runtime.KeepAlive(raw)
}

// TestDeliveryDoesNotLoadMailboxes: mail to every address of a full-size
// province must not build every mailbox's generated past mail in memory.
func TestDeliveryDoesNotLoadMailboxes(t *testing.T) {
	srv, err := New(Config{Listen: "127.0.0.1", Accounts: 11200, Seed: 3, CheckerSecret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := srv.Start(ctx); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = srv.Close()
	})
	before := heap()
	raw := []byte("Subject: chao\r\n\r\nxin chao\r\n")
	for i := 0; i < len(srv.dir.Accounts); i += 100 {
		var rcpts []string
		for _, a := range srv.dir.Accounts[i:min(i+100, len(srv.dir.Accounts))] {
			rcpts = append(rcpts, a.Addr)
		}
		if err := sendAnon(t, fromAddr("127.0.0.2"), srv.AddrSMTP(), rcpts, raw); err != nil {
			t.Fatalf("delivery %d: %v", i, err)
		}
	}
	grown := int64(heap()) - int64(before)
	t.Logf("heap grew by %d MiB", grown>>20)
	if grown > 64<<20 {
		t.Errorf("heap grew by %d MiB for one short message to each of %d mailboxes", grown>>20, len(srv.dir.Accounts))
	}
	// The mail is there when the owner looks.
	last := srv.dir.Accounts[len(srv.dir.Accounts)-1]
	msgs, err := srv.store.list(last, "INBOX")
	if err != nil || len(msgs) == 0 || !bytes.Contains(msgs[0].Raw, []byte("xin chao")) {
		t.Errorf("delivered message not listed first: %v", err)
	}
}

// TestFailedLoginTableBounded sprays 100,000 distinct user names, from one
// source and from many: the table stays bounded, and a real brute force
// (from elsewhere, and from the spraying source itself) is still locked.
func TestFailedLoginTableBounded(t *testing.T) {
	s, err := New(Config{Accounts: MinAccounts, CheckerSecret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	acct := s.dir.Accounts[10]
	s.sec.setPassword(acct, "Right-Password-1")
	sprayer := netip.MustParseAddr("10.0.3.2")
	before := heap()
	deadline := time.Now().Add(3 * time.Minute) // a hang guard, not a figure
	for i := range 100000 {
		s.sec.checkUser(nil, fmt.Sprintf("nobody%06d@lachong.gov.vn", i), "x", sprayer)
		src := netip.AddrFrom4([4]byte{10, 9, byte(i >> 8), byte(i)})
		s.sec.checkUser(nil, fmt.Sprintf("ghost%06d", i), "x", src)
		if i%1000 == 0 && time.Now().After(deadline) {
			t.Fatalf("spraying stalled at %d names", i)
		}
	}
	grown := int64(heap()) - int64(before)
	rows := len(s.sec.failures())
	t.Logf("failed-login table: %d rows, heap grew by %d KiB", rows, grown>>10)
	if rows > 40000 {
		t.Errorf("the failed-login table holds %d rows after the spray", rows)
	}
	if grown > 16<<20 {
		t.Errorf("heap grew by %d MiB", grown>>20)
	}
	// A real brute force from a fresh source is locked at the threshold.
	brute := netip.MustParseAddr("10.0.5.2")
	for range 5 {
		s.sec.checkUser(acct, acct.Addr, "wrong", brute)
	}
	if r := s.sec.checkUser(acct, acct.Addr, "Right-Password-1", brute); r != loginLocked {
		t.Errorf("brute force after the spray not locked: %v", r)
	}
	// The spraying source cannot guess either.
	if r := s.sec.checkUser(acct, acct.Addr, "Right-Password-1", sprayer); r != loginLocked {
		t.Errorf("the spraying source may still guess passwords: %v", r)
	}
	// Nobody else is locked out, and the checker never is.
	if r := s.sec.checkUser(acct, acct.Addr, "Right-Password-1", netip.MustParseAddr("10.0.6.2")); r != loginOK {
		t.Errorf("an innocent source is refused: %v", r)
	}
	if r := s.sec.checkUser(acct, acct.Addr, contract.MasterPassword(testSecret, "", acct.Addr), sprayer); r != loginOK {
		t.Errorf("the checker is refused: %v", r)
	}
}

// smtpEnhanced returns a refusal's code and enhanced code, as "452 4.2.2".
func smtpEnhanced(err error) string {
	var se *smtp.SMTPError
	if !errors.As(err, &se) {
		return fmt.Sprint(err)
	}
	return fmt.Sprintf("%d %d.%d.%d", se.Code, se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2])
}

// staffWithoutForward returns n staff accounts.
func staff(ts *testServer, n int) []*Account {
	var out []*Account
	for _, a := range ts.dir.Accounts {
		if a.Role == RoleStaff && a.Forward == "" && len(out) < n {
			out = append(out, a)
		}
	}
	return out
}

// TestQuotas fills, with small limits, one mailbox, one sender's share
// and the whole server, and checks each refusal's SMTP, IMAP and HTTP
// answer, then that the checker is still served everywhere and that its
// own pool drops its oldest mail instead of growing.
func TestQuotas(t *testing.T) {
	lim := Limits{MessageBytes: 64 << 10, MailboxBytes: 200 << 10, SourceBytes: 400 << 10, TotalBytes: 1 << 20,
		SystemBytes: 300 << 10, InflightBytes: 1 << 20}
	ts := startServerWith(t, Config{Limits: lim})
	ctx := ctxT(t)
	people := staff(ts, 40)
	victim := people[0]

	c := rawSMTP(t, ts.AddrSMTP())
	if code, msg := c.cmd("EHLO kali"); code != 250 || !strings.Contains(msg, "SIZE 65536") {
		t.Errorf("EHLO does not advertise the size limit: %d %q", code, msg)
	}
	if code, msg := c.cmd("MAIL FROM:<a@example.org> SIZE=100000"); code != 552 {
		t.Errorf("MAIL FROM with SIZE past the limit: %d %s", code, msg)
	}
	if err := sendAnon(t, fromAddr("127.0.0.2"), ts.AddrSMTP(), []string{victim.Addr}, bulk(70<<10)); smtpEnhanced(err) != "552 5.3.4" {
		t.Errorf("a message past the size limit: %v", err)
	}

	// One mailbox: full, then refused at RCPT.
	var err error
	for range 10 {
		if err = sendAnon(t, fromAddr("127.0.0.2"), ts.AddrSMTP(), []string{victim.Addr}, bulk(40<<10)); err != nil {
			break
		}
	}
	if smtpEnhanced(err) != "552 5.2.2" {
		t.Errorf("a message past the mailbox quota: %v, want 552 5.2.2", err)
	}
	for range 60 {
		if err = sendAnon(t, fromAddr("127.0.0.2"), ts.AddrSMTP(), []string{victim.Addr}, []byte("Subject: x\r\n\r\nx\r\n")); err != nil {
			break
		}
	}
	if smtpEnhanced(err) != "452 4.2.2" {
		t.Errorf("RCPT to a full mailbox: %v, want 452 4.2.2", err)
	}
	// One sender's share, over other mailboxes.
	for _, a := range people[1:10] {
		if err = sendAnon(t, fromAddr("127.0.0.2"), ts.AddrSMTP(), []string{a.Addr}, bulk(40<<10)); err != nil {
			break
		}
	}
	if smtpEnhanced(err) != "452 4.3.1" {
		t.Errorf("past the sender's quota: %v, want 452 4.3.1", err)
	}
	if code, msg := c.cmd("MAIL FROM:<a@example.org> SIZE=60000"); code != 250 {
		t.Errorf("another source, within its share: %d %s", code, msg)
	}
	// The whole server, from several sources.
	for i, a := range people[10:] {
		src := fmt.Sprintf("127.0.0.%d", 3+i%8)
		if err = sendAnon(t, fromAddr(src), ts.AddrSMTP(), []string{a.Addr}, bulk(40<<10)); err != nil {
			break
		}
	}
	if smtpEnhanced(err) != "452 4.3.1" {
		t.Errorf("past the total quota: %v, want 452 4.3.1", err)
	}
	if err := sendAnon(t, fromAddr("127.0.0.20"), ts.AddrSMTP(), []string{people[39].Addr}, []byte("Subject: x\r\n\r\nx\r\n")); smtpEnhanced(err) != "452 4.3.1" {
		t.Errorf("a fresh source once the server is full: %v", err)
	}

	// Everyone else is refused over IMAP and the webmail too.
	ts.sec.setPassword(victim, "Victim-Pass-1")
	ic := dialIMAP(t, ts.AddrIMAP())
	if err := ic.Login(victim.Addr, "Victim-Pass-1").Wait(); err != nil {
		t.Fatal(err)
	}
	draft := []byte("Subject: nhap\r\n\r\nban nhap\r\n")
	ap := ic.Append("Drafts", int64(len(draft)), nil)
	_, _ = ap.Write(draft)
	_ = ap.Close()
	var ie *imap.Error
	if _, err := ap.Wait(); !errors.As(err, &ie) || ie.Code != imap.ResponseCodeOverQuota {
		t.Errorf("APPEND past the quota: %v", err)
	}
	wc := webclientFor(t, ts, victim.Addr, "Victim-Pass-1")
	if _, err := wc.Send(ctx, webclientDraft()); !isStatus(err, 507) {
		t.Errorf("webmail draft past the quota: %v", err)
	}

	// The checker is served everywhere.
	leader := ts.dir.Leaders[0]
	head := ts.dir.Agencies[1].Head
	if err := sendMaster(t, ts.AddrSMTP(), testSecret, head, []string{victim.Addr, leader.Addr}, []byte("Message-ID: <chk-1@x>\r\nSubject: x\r\n\r\nFLAG\r\n")); err != nil {
		t.Errorf("the checker's SMTP: %v", err)
	}
	if !findByMessageID(t, ts, victim, "chk-1@x") {
		t.Error("the checker's message is missing")
	}
	mc := dialIMAP(t, ts.AddrIMAP())
	if err := mc.Login(victim.Addr, contract.MasterPassword(testSecret, "", victim.Addr)).Wait(); err != nil {
		t.Fatal(err)
	}
	ap = mc.Append("Drafts", int64(len(draft)), nil)
	_, _ = ap.Write(draft)
	_ = ap.Close()
	if _, err := ap.Wait(); err != nil {
		t.Errorf("the checker's APPEND: %v", err)
	}
	mw := webclientFor(t, ts, victim.Addr, contract.MasterPassword(testSecret, "", victim.Addr))
	if _, err := mw.Send(ctx, webclientDraft()); err != nil {
		t.Errorf("the checker's webmail draft: %v", err)
	}

	// The checker's own pool keeps its newest mail within its limit.
	for i := range 12 {
		raw := append([]byte(fmt.Sprintf("Message-ID: <pool-%d@x>\r\n", i)), bulk(40<<10)...)
		if err := sendMaster(t, ts.AddrSMTP(), testSecret, head, []string{leader.Addr}, raw); err != nil {
			t.Fatalf("the checker's message %d: %v", i, err)
		}
	}
	ts.store.mu.Lock()
	system := ts.store.system
	ts.store.mu.Unlock()
	if system > lim.SystemBytes {
		t.Errorf("the checker's pool holds %d bytes, limit %d", system, lim.SystemBytes)
	}
	if !findByMessageID(t, ts, leader, "pool-11@x") || findByMessageID(t, ts, leader, "pool-0@x") {
		t.Error("the pool did not keep the newest and drop the oldest")
	}
}

// openData opens an anonymous SMTP conversation to rcpt and leaves it in
// DATA, the body not yet sent.
func openData(t *testing.T, ts *testServer, rcpt *Account) *smtpConv {
	t.Helper()
	c := rawSMTP(t, ts.AddrSMTP())
	c.cmd("EHLO slow.example")
	c.cmd("MAIL FROM:<a@example.org>")
	c.cmd("RCPT TO:<" + rcpt.Addr + ">")
	if code, _ := c.cmd("DATA"); code != 354 {
		t.Fatalf("DATA: %d", code)
	}
	return c
}

// TestInflightBudget holds one large message half sent: a second large
// message at the same time is refused for now, the checker's is not.
func TestInflightBudget(t *testing.T) {
	ts := startServerWith(t, Config{Limits: Limits{MessageBytes: 256 << 10, InflightBytes: 256 << 10}})
	people := staff(ts, 2)
	c := openData(t, ts, people[0])
	part := bulk(200 << 10)
	if _, err := c.tp.W.Write(part); err != nil {
		t.Fatal(err)
	}
	_ = c.tp.W.Flush()
	// The server has taken what it read so far; wait until it holds most.
	deadline := time.Now().Add(30 * time.Second)
	for {
		ts.inflight.mu.Lock()
		left := ts.inflight.left
		ts.inflight.mu.Unlock()
		if left < 128<<10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server did not read the first message (budget left %d)", left)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := sendAnon(t, fromAddr("127.0.0.3"), ts.AddrSMTP(), []string{people[1].Addr}, bulk(200<<10)); smtpEnhanced(err) != "452 4.3.1" {
		t.Errorf("a second large message at once: %v, want 452 4.3.1", err)
	}
	if err := sendMaster(t, ts.AddrSMTP(), testSecret, people[0], []string{people[1].Addr}, bulk(100<<10)); err != nil {
		t.Errorf("the checker's message: %v", err)
	}
	_, _ = c.tp.W.WriteString("\r\n.\r\n")
	_ = c.tp.W.Flush()
	if code, msg, err := c.tp.ReadResponse(250); err != nil {
		t.Errorf("the first message: %d %s %v", code, msg, err)
	}
}

// webclientFor logs in to the webmail as user.
func webclientFor(t *testing.T, ts *testServer, user, password string) *webclient.Client {
	t.Helper()
	wc := webclient.New("http://"+ts.AddrHTTP(), nil)
	t.Cleanup(wc.Close)
	if err := wc.Login(ctxT(t), user, password); err != nil {
		t.Fatalf("webmail login of %s: %v", user, err)
	}
	return wc
}

func webclientDraft() webclient.Compose {
	return webclient.Compose{Subject: "Du thao", Text: "Noi dung du thao.", Draft: true}
}

func isStatus(err error, code int) bool {
	var se *webclient.StatusError
	return errors.As(err, &se) && se.Code == code
}
