package mailserver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"go.uber.org/goleak"

	"github.com/cyrange/cyrange/images/mailserver/contract"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const testSecret = "test-checker-secret"

// logBuffer collects the server's JSON log lines for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for line := range strings.Lines(l.buf.String()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// find returns the log lines with the given proto and action.
func (l *logBuffer) find(t *testing.T, proto, action string) []map[string]any {
	var out []map[string]any
	for _, m := range l.lines(t) {
		if m["proto"] == proto && m["action"] == action {
			out = append(out, m)
		}
	}
	return out
}

type testServer struct {
	*Server
	logs *logBuffer
}

func startServer(t *testing.T, weaknesses ...string) *testServer {
	t.Helper()
	set := map[string]bool{}
	for _, w := range weaknesses {
		if w == "all" {
			for _, x := range contract.Weaknesses() {
				set[x] = true
			}
			continue
		}
		set[w] = true
	}
	return startServerWith(t, Config{Weaknesses: set})
}

// startServerWith starts a test server with cfg's weaknesses and limits.
func startServerWith(t *testing.T, cfg Config) *testServer {
	t.Helper()
	logs := &logBuffer{}
	srv, err := New(Config{
		Listen: "127.0.0.1", Accounts: 300, Seed: 7, Weaknesses: cfg.Weaknesses, Limits: cfg.Limits,
		CheckerSecret: testSecret, OperatorPassword: "operator-pass-1",
		Logger: slog.New(slog.NewJSONHandler(logs, nil)),
	})
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
		if err := srv.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return &testServer{Server: srv, logs: logs}
}

// account returns an ordinary staff account with a known password.
func (ts *testServer) account(t *testing.T, role Role, password string) *Account {
	t.Helper()
	for _, a := range ts.dir.Accounts {
		if a.Role == role {
			ts.sec.setPassword(a, password)
			return a
		}
	}
	t.Fatalf("no account with role %v", role)
	return nil
}

func dialIMAP(t *testing.T, addr string) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestSMTPDeliveryAndIMAPFetch(t *testing.T) {
	ts := startServer(t)
	from := ts.account(t, RoleStaff, "sender-pass-123")
	var to *Account
	for _, a := range ts.dir.Accounts {
		if a.Role == RoleDeputy {
			to = a
			break
		}
	}

	c, err := smtp.Dial(ts.AddrSMTP())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("PC-STTTT-01"); err != nil {
		t.Fatal(err)
	}
	if err := c.Auth(sasl.NewPlainClient("", from.Addr, "sender-pass-123")); err != nil {
		t.Fatalf("auth: %v", err)
	}
	msg := "From: " + from.Addr + "\r\nTo: " + to.Addr + "\r\nSubject: V/v kiem thu\r\nMessage-ID: <kiemthu-1@test>\r\n\r\nNoi dung kiem thu 12345.\r\n"
	if err := c.SendMail(from.Addr, []string{to.Addr}, strings.NewReader(msg)); err != nil {
		t.Fatalf("send: %v", err)
	}
	_ = c.Quit()

	ic := dialIMAP(t, ts.AddrIMAP())
	if err := ic.Login(to.Local, contract.MasterPassword(testSecret, "", to.Addr)).Wait(); err != nil {
		t.Fatalf("login: %v", err)
	}
	mboxes, err := ic.List("", "*", nil).Collect()
	if err != nil || len(mboxes) != 5 {
		t.Fatalf("list: %v %v", mboxes, err)
	}
	sel, err := ic.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if sel.NumMessages == 0 {
		t.Fatal("empty inbox")
	}
	found, err := ic.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Message-ID", Value: "kiemthu-1@test"}}}, nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	uids := found.AllUIDs()
	if len(uids) != 1 {
		t.Fatalf("search found %v", uids)
	}
	msgs, err := ic.Fetch(imap.UIDSetNum(uids...), &imap.FetchOptions{Envelope: true, Flags: true, BodySection: []*imap.FetchItemBodySection{{}}}).Collect()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("fetch: %v %v", msgs, err)
	}
	if msgs[0].Envelope.Subject != "V/v kiem thu" {
		t.Errorf("subject %q", msgs[0].Envelope.Subject)
	}
	if body := msgs[0].FindBodySection(&imap.FetchItemBodySection{}); !bytes.Contains(body, []byte("Noi dung kiem thu 12345.")) {
		t.Errorf("body %q", body)
	}
	// The fetch of the body marked it seen.
	st, err := ic.Status("INBOX", &imap.StatusOptions{NumUnseen: true, NumMessages: true}).Wait()
	if err != nil || *st.NumMessages != sel.NumMessages {
		t.Fatalf("status: %+v %v", st, err)
	}
	if err := ic.Logout().Wait(); err != nil {
		t.Fatal(err)
	}

	if len(ts.logs.find(t, "smtp", "deliver")) != 1 || len(ts.logs.find(t, "imap", "login")) != 1 {
		t.Errorf("missing log lines")
	}
	for _, l := range ts.logs.find(t, "smtp", "auth") {
		if l["user"] != from.Addr || !strings.HasPrefix(l["src"].(string), "127.0.0.1:") {
			t.Errorf("auth log %v", l)
		}
	}
}

// smtpConv talks raw SMTP, for the commands client libraries do not have.
type smtpConv struct {
	t  *testing.T
	tp *textproto.Conn
}

func rawSMTP(t *testing.T, addr string) *smtpConv {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	tp := textproto.NewConn(conn)
	t.Cleanup(func() { _ = tp.Close() })
	if _, _, err := tp.ReadResponse(220); err != nil {
		t.Fatal(err)
	}
	return &smtpConv{t: t, tp: tp}
}

func (c *smtpConv) cmd(line string) (int, string) {
	c.t.Helper()
	if err := c.tp.PrintfLine("%s", line); err != nil {
		c.t.Fatal(err)
	}
	code, msg, err := c.tp.ReadResponse(0)
	if err != nil && code == 0 {
		c.t.Fatal(err)
	}
	return code, msg
}

func TestVRFYAndEXPN(t *testing.T) {
	for _, on := range []bool{true, false} {
		t.Run(map[bool]string{true: "on", false: "off"}[on], func(t *testing.T) {
			var ts *testServer
			if on {
				ts = startServer(t, contract.SMTPVrfy)
			} else {
				ts = startServer(t)
			}
			leader := ts.dir.Leaders[0]
			c := rawSMTP(t, ts.AddrSMTP())
			c.cmd("EHLO kali")
			code, msg := c.cmd("VRFY " + leader.Local)
			if on && (code != 250 || !strings.Contains(msg, leader.Addr)) || !on && code != 502 {
				t.Errorf("VRFY: %d %s", code, msg)
			}
			code, msg = c.cmd("EXPN <" + leader.Addr + ">")
			if on && (code != 250 || !strings.Contains(msg, leader.Forward)) || !on && code != 502 {
				t.Errorf("EXPN: %d %s", code, msg)
			}
			code, _ = c.cmd("VRFY nobody.here")
			if on && code != 550 {
				t.Errorf("VRFY unknown: %d", code)
			}
			code, msg = c.cmd("EXPN lanhdao")
			if on && (code != 250 || strings.Count(msg, "@") != 8) || !on && code != 502 {
				t.Errorf("EXPN of the leaders' list: %d %q", code, msg)
			}
			// A message whose body has a VRFY line is still delivered whole.
			c.cmd("MAIL FROM:<someone@example.org>")
			if code, msg := c.cmd("RCPT TO:<" + leader.Addr + ">"); code != 250 {
				t.Fatalf("RCPT: %d %s", code, msg)
			}
			if code, _ := c.cmd("DATA"); code != 354 {
				t.Fatalf("DATA: %d", code)
			}
			w := c.tp.DotWriter()
			_, _ = io.WriteString(w, "Subject: test\r\n\r\nVRFY inside the body\r\nEXPN too\r\n")
			_ = w.Close()
			if code, _, err := c.tp.ReadResponse(250); err != nil {
				t.Fatalf("end of data: %d %v", code, err)
			}
			msgs, _ := ts.store.list(leader, "INBOX")
			if !bytes.Contains(msgs[0].Raw, []byte("VRFY inside the body\r\nEXPN too")) {
				t.Errorf("body lost: %q", msgs[0].Raw)
			}
			// and the forward got a copy
			sec, _ := ts.dir.Lookup(leader.Forward)
			fw, _ := ts.store.list(sec, "INBOX")
			if !bytes.Equal(fw[0].Raw, msgs[0].Raw) {
				t.Errorf("forward did not get the message")
			}
			code, _ = c.cmd("QUIT")
			if code != 221 {
				t.Errorf("QUIT: %d", code)
			}
			if n := len(ts.logs.find(t, "smtp", "vrfy")); n != 2 || len(ts.logs.find(t, "smtp", "expn")) != 2 {
				t.Errorf("%d vrfy log lines", n)
			}
		})
	}
}

func TestSMTPRejects(t *testing.T) {
	ts := startServer(t)
	leader := ts.dir.Leaders[0]
	c := rawSMTP(t, ts.AddrSMTP())
	c.cmd("EHLO outside.example")
	tests := []struct {
		line string
		code int
	}{
		{"MAIL FROM:<" + leader.Addr + ">", 553},        // local sender, not logged in
		{"MAIL FROM:<news@example.org>", 250},           // outside sender
		{"RCPT TO:<victim@example.com>", 554},           // relay
		{"RCPT TO:<khongco.stttt@lachong.gov.vn>", 550}, // unknown
		{"RCPT TO:<lanhdao@lachong.gov.vn>", 250},       // the leaders' list
		{"AUTH PLAIN " + "AGZvbwBiYXI=", 535},           // foo/bar
	}
	for _, tt := range tests {
		if code, msg := c.cmd(tt.line); code != tt.code {
			t.Errorf("%s: got %d %s, want %d", tt.line, code, msg, tt.code)
		}
	}
}

func TestBDATIsPassedThrough(t *testing.T) {
	ts := startServer(t, contract.SMTPVrfy)
	leader := ts.dir.Leaders[1]
	c := rawSMTP(t, ts.AddrSMTP())
	c.cmd("EHLO x")
	c.cmd("MAIL FROM:<a@example.org>")
	c.cmd("RCPT TO:<" + leader.Addr + ">")
	chunk := "Subject: chunk\r\n\r\nVRFY x\r\n"
	w := bufio.NewWriter(c.tp.W)
	_, _ = w.WriteString("BDAT " + strconv.Itoa(len(chunk)) + " LAST\r\n" + chunk)
	_ = w.Flush()
	_ = c.tp.W.Flush()
	if code, msg, err := c.tp.ReadResponse(250); err != nil {
		t.Fatalf("BDAT: %d %s %v", code, msg, err)
	}
	msgs, _ := ts.store.list(leader, "INBOX")
	if !bytes.Contains(msgs[0].Raw, []byte("VRFY x")) {
		t.Errorf("chunk lost")
	}
}
