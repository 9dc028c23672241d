package mailserver

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/cyrange/cyrange/images/mailserver/contract"
	"github.com/cyrange/cyrange/images/mailserver/webclient"
	"github.com/cyrange/cyrange/internal/firewall"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// fromAddr dials from a given loopback address, as a team's gateway would
// from its own range.
func fromAddr(ip string) *net.Dialer {
	return &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
}

func TestWebmailUse(t *testing.T) {
	ts := startServer(t)
	ctx := ctxT(t)
	alice := ts.account(t, RoleStaff, "alice-pass-123")
	var bob *Account
	for _, a := range ts.dir.Accounts {
		if a.Role == RoleStaff && a != alice {
			bob = a
			break
		}
	}
	ts.sec.setPassword(bob, "bob-pass-12345")
	base := "http://" + ts.AddrHTTP()

	c := webclient.New(base, nil)
	defer c.Close()
	if err := c.Login(ctx, alice.Addr, "wrong"); !errors.Is(err, webclient.ErrUnauthorized) {
		t.Fatalf("wrong password: %v", err)
	}
	if err := c.LoginForm(ctx, alice.Local, "alice-pass-123"); err != nil {
		t.Fatalf("form login: %v", err)
	}
	page, err := c.Page(ctx, "/webmail/inbox")
	if err != nil || !strings.Contains(page, alice.Addr) {
		t.Fatalf("inbox page: %v", err)
	}
	folders, err := c.Folders(ctx)
	if err != nil || len(folders) != 5 || folders[0].Name != "INBOX" {
		t.Fatalf("folders: %v %v", folders, err)
	}
	sent, err := c.Send(ctx, webclient.Compose{
		To: []string{bob.Name() + " <" + bob.Addr + ">"}, Subject: "Báo cáo quý III", Text: "Kính gửi anh, gửi báo cáo.",
		Attachments: []webclient.File{{Name: "BC_quy3.csv", Data: []byte("stt,noi dung\n1,abc\n")}},
	})
	if err != nil || sent.ID <= liveBase {
		t.Fatalf("send: %+v %v", sent, err)
	}
	draft, err := c.Send(ctx, webclient.Compose{Subject: "Nháp tờ trình", Text: "Dự thảo...", Draft: true})
	if err != nil {
		t.Fatal(err)
	}
	drafts, err := c.Messages(ctx, "Drafts", "", 1)
	if err != nil || drafts.Messages[0].ID != draft.ID {
		t.Fatalf("drafts: %+v %v", drafts, err)
	}
	if _, err := c.Page(ctx, "/webmail/read?id="+strconv.FormatInt(draft.ID, 10)); err != nil {
		t.Fatal(err)
	}

	b := webclient.New(base, nil)
	defer b.Close()
	if err := b.Login(ctx, bob.Addr, "bob-pass-12345"); err != nil {
		t.Fatal(err)
	}
	l, err := b.Messages(ctx, "INBOX", "bao cao quy", 1)
	if err != nil || l.Total != 1 {
		t.Fatalf("search: %+v %v", l, err)
	}
	m, err := b.Message(ctx, l.Messages[0].ID)
	if err != nil || m.Subject != "Báo cáo quý III" || len(m.Attachments) != 1 || !strings.Contains(m.Text, "gửi báo cáo") {
		t.Fatalf("message: %+v %v", m, err)
	}
	data, err := b.Download(ctx, m.ID, "BC_quy3.csv")
	if err != nil || string(data) != "stt,noi dung\n1,abc\n" {
		t.Fatalf("download: %q %v", data, err)
	}
	// Patched: another user's message is not found, nor a path.
	if _, err := b.Message(ctx, draft.ID); !errors.Is(err, webclient.ErrNotFound) {
		t.Errorf("other user's draft: %v", err)
	}
	if _, err := b.Download(ctx, m.ID, "../../../../etc/passwd"); !errors.Is(err, webclient.ErrNotFound) {
		t.Errorf("traversal: %v", err)
	}
	// The message arrived over IMAP too.
	ic := dialIMAP(t, ts.AddrIMAP())
	if err := ic.Login(bob.Addr, "bob-pass-12345").Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := ic.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	res, err := ic.Search(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Message-ID", Value: m.MessageID}}}, nil).Wait()
	if err != nil || len(res.AllSeqNums()) != 1 {
		t.Fatalf("imap search: %v %v", res, err)
	}
	if err := c.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Folders(ctx); !errors.Is(err, webclient.ErrUnauthorized) {
		t.Errorf("after logout: %v", err)
	}

	// Public pages.
	contacts, err := c.Directory(ctx)
	if err != nil || len(contacts) < 10 || !strings.Contains(contacts[0].Title, "Chủ tịch UBND tỉnh") {
		t.Fatalf("directory: %v %v", len(contacts), err)
	}
	initial, err := c.InitialPassword(ctx)
	if err != nil || initial != ts.InitialPassword() {
		t.Fatalf("guide: %q %v", initial, err)
	}
	for _, p := range []string{"/danhba", "/webmail/login", "/robots.txt"} {
		if _, err := c.Page(ctx, p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	for _, action := range []string{"login", "send", "draft", "read", "download", "list"} {
		if len(ts.logs.find(t, "http", action)) == 0 {
			t.Errorf("no %s log line", action)
		}
	}
}

func TestAdminConsole(t *testing.T) {
	ts := startServer(t, contract.AdminDefaultPassword)
	ctx := ctxT(t)
	adminPort := "http://" + ts.AddrAdmin()
	webmail := "http://" + ts.AddrHTTP()

	op := webclient.NewAdmin(adminPort, nil, OperatorUser, "operator-pass-1")
	defer op.Close()
	st, err := op.Status(ctx)
	if err != nil || st.Accounts != 300 || *st.Settings.IDORPatched != true {
		t.Fatalf("status: %+v %v", st, err)
	}
	// The operator account only works on the admin port.
	pub := webclient.NewAdmin(webmail, nil, OperatorUser, "operator-pass-1")
	defer pub.Close()
	if _, err := pub.Status(ctx); !errors.Is(err, webclient.ErrUnauthorized) {
		t.Errorf("operator on webmail: %v", err)
	}
	// The vendor's default works on both, with the weakness on.
	vendor := webclient.NewAdmin(webmail, nil, AdminUser, DefaultAdminPassword)
	defer vendor.Close()
	if _, err := vendor.Status(ctx); err != nil {
		t.Fatalf("default admin: %v", err)
	}
	leaders, err := op.Users(ctx, "", "leader")
	if err != nil || len(leaders) != 4 || leaders[0].Forward == "" {
		t.Fatalf("leaders: %+v %v", leaders, err)
	}
	l, err := op.Mailbox(ctx, leaders[0].Addr, "INBOX", 1)
	if err != nil || l.Total < 30 {
		t.Fatalf("mailbox: %+v %v", l.Total, err)
	}
	src, err := op.Source(ctx, l.Messages[0].ID)
	if err != nil || !bytes.Contains(src, []byte("Message-ID:")) {
		t.Fatalf("source: %v", err)
	}
	pw, err := op.ResetPassword(ctx, leaders[0].Addr, "")
	if err != nil || len(pw) < 12 {
		t.Fatalf("reset: %q %v", pw, err)
	}
	if ts.sec.checkUser(ts.dir.Leaders[0], leaders[0].Addr, pw, firewall.Source("127.0.0.1:1")) != loginOK {
		t.Errorf("new password does not work")
	}
	if _, err := op.ResetPassword(ctx, leaders[0].Addr, "short"); err == nil {
		t.Errorf("short password accepted")
	}
	set, err := op.Update(ctx, webclient.Settings{VRFY: webclient.Bool(false), LockThreshold: ptr(3)})
	if err != nil || *set.VRFY || *set.LockThreshold != 3 || !*set.Lockout {
		t.Fatalf("update: %+v %v", set, err)
	}
	if err := op.ChangePassword(ctx, OperatorUser, "something-long"); err == nil {
		t.Errorf("operator password changed from the console")
	}
	if err := op.ChangePassword(ctx, AdminUser, "Khong-Doan-Duoc-2024"); err != nil {
		t.Fatal(err)
	}
	if _, err := vendor.Status(ctx); !errors.Is(err, webclient.ErrUnauthorized) {
		t.Errorf("default admin after change: %v", err)
	}

	// The firewall: block 127.0.0.2; 127.0.0.1 still gets in.
	if _, err := op.Block(ctx, "127.0.0.2/32"); err != nil {
		t.Fatal(err)
	}
	blocked := webclient.New(webmail, fromAddr("127.0.0.2"))
	defer blocked.Close()
	if _, err := blocked.Page(ctx, "/webmail/login"); err == nil {
		t.Errorf("blocked source got an answer")
	}
	if _, err := webclient.New(webmail, fromAddr("127.0.0.3")).Page(ctx, "/webmail/login"); err != nil {
		t.Errorf("other source refused: %v", err)
	}
	if _, err := op.Unblock(ctx, "127.0.0.2/32"); err != nil {
		t.Fatal(err)
	}
	if _, err := blocked.Page(ctx, "/webmail/login"); err != nil {
		t.Errorf("unblocked source refused: %v", err)
	}
	if len(ts.logs.find(t, "http", "blocked")) == 0 || len(ts.logs.find(t, "admin", "settings")) != 3 {
		t.Errorf("missing firewall or settings logs")
	}

	// Closing the console on the webmail.
	if _, err := op.Update(ctx, webclient.Settings{AdminOnWebmail: webclient.Bool(false)}); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(webmail + "/admin/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("console still on webmail: %d", resp.StatusCode)
	}

	// HTML pages of the console render.
	hc := webclient.New(adminPort, nil)
	defer hc.Close()
	for _, p := range []string{"/admin/login", "/"} {
		if _, err := hc.Page(ctx, p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestAdminAllow(t *testing.T) {
	srv, err := New(Config{Listen: "127.0.0.1", Accounts: MinAccounts, AdminAllow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx := ctxT(t)
	if _, err := webclient.New("http://"+srv.AddrAdmin(), fromAddr("127.0.0.5")).Page(ctx, "/admin/login"); err == nil {
		t.Errorf("admin port answered a source outside --admin-allow")
	}
	if _, err := webclient.New("http://"+srv.AddrAdmin(), fromAddr("127.0.0.1")).Page(ctx, "/admin/login"); err != nil {
		t.Errorf("allowed source refused: %v", err)
	}
}
