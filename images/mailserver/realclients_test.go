package mailserver

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cyrange/cyrange/images/mailserver/contract"
)

// needTool finds an outside client program. Without it the test skips, with
// the reason, unless CYRANGE_REQUIRE_DOCKER=1 (as CI sets, where the tools
// are installed): then it fails.
func needTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CYRANGE_REQUIRE_DOCKER") == "1" {
			t.Fatalf("%s is required (CYRANGE_REQUIRE_DOCKER=1) but not found: %v", name, err)
		}
		t.Skipf("%s not installed: skipping the real-client test (set CYRANGE_REQUIRE_DOCKER=1 to make this a failure)", name)
	}
	return path
}

func hostPort(t *testing.T, addr string) (string, string) {
	t.Helper()
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return h, p
}

func runTool(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return string(out)
}

// pythonClient sends a message with smtplib and reads it back with
// imaplib, the way office scripts and many tools talk to mail servers.
const pythonClient = `
import imaplib, json, smtplib, sys
from email.message import EmailMessage
host, smtp_port, imap_port, sender, spw, rcpt, rpw, vrfy_user = sys.argv[1:9]
out = {}
m = EmailMessage()
m["From"], m["To"], m["Subject"] = sender, rcpt, "Giấy mời họp giao ban"
m["Message-ID"] = "<py-client-42@test.local>"
m.set_content("Kính mời đồng chí dự họp lúc 8h00.")
m.add_attachment(b"noi dung dinh kem", maintype="application", subtype="pdf", filename="GM_01.pdf")
with smtplib.SMTP(host, int(smtp_port), timeout=10) as s:
    s.ehlo("PC-SNV-07")
    out["auth"] = s.has_extn("auth")
    s.login(sender, spw)
    out["refused"] = s.send_message(m)
    out["vrfy"] = s.verify(vrfy_user)[0]
im = imaplib.IMAP4(host, int(imap_port))
im.login(rcpt, rpw)
typ, boxes = im.list()
out["boxes"] = [b.decode() for b in boxes]
typ, data = im.select("INBOX")
out["exists"] = int(data[0])
typ, data = im.search(None, "HEADER", "Message-ID", "py-client-42@test.local")
ids = data[0].split()
out["found"] = len(ids)
typ, data = im.fetch(ids[0], "(RFC822)")
raw = data[0][1].decode("utf-8", "replace")
out["has_attachment"] = "GM_01.pdf" in raw
typ, data = im.fetch(ids[0], "(FLAGS)")
out["flags"] = data[0].decode()
typ, data = im.append("Drafts", "(\\Draft)", None, b"Subject: nhap\r\n\r\nban nhap\r\n")
out["append"] = typ
im.logout()
print(json.dumps(out))
`

func TestPythonSmtplibImaplib(t *testing.T) {
	py := needTool(t, "python3")
	ts := startServer(t, contract.SMTPVrfy)
	sender := ts.account(t, RoleStaff, "Sender-Pass-1")
	rcpt := ts.account(t, RoleDeputy, "Rcpt-Pass-2")
	host, smtpPort := hostPort(t, ts.AddrSMTP())
	_, imapPort := hostPort(t, ts.AddrIMAP())
	out := runTool(t, py, "-c", pythonClient, host, smtpPort, imapPort, sender.Addr, "Sender-Pass-1", rcpt.Addr, "Rcpt-Pass-2", ts.dir.Leaders[0].Local)
	var res struct {
		Auth          bool              `json:"auth"`
		Refused       map[string]string `json:"refused"`
		Vrfy          int               `json:"vrfy"`
		Boxes         []string          `json:"boxes"`
		Exists        int               `json:"exists"`
		Found         int               `json:"found"`
		HasAttachment bool              `json:"has_attachment"`
		Flags         string            `json:"flags"`
		Append        string            `json:"append"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("python output %q: %v", out, err)
	}
	if !res.Auth || len(res.Refused) != 0 || res.Vrfy != 250 || len(res.Boxes) != 5 || res.Exists == 0 ||
		res.Found != 1 || !res.HasAttachment || !strings.Contains(res.Flags, `\Seen`) || res.Append != "OK" {
		t.Errorf("python clients: %+v", res)
	}
	if !strings.Contains(strings.Join(res.Boxes, " "), `\Drafts`) {
		t.Errorf("no special-use attributes in LIST: %v", res.Boxes)
	}
}

func TestCurlSMTPAndIMAP(t *testing.T) {
	curl := needTool(t, "curl")
	ts := startServer(t)
	sender := ts.account(t, RoleStaff, "Sender-Pass-1")
	rcpt := ts.account(t, RoleDeputy, "Rcpt-Pass-2")
	dir := t.TempDir()
	msg := filepath.Join(dir, "msg.eml")
	if err := os.WriteFile(msg, []byte("From: "+sender.Addr+"\r\nTo: "+rcpt.Addr+"\r\nSubject: curl test\r\nMessage-ID: <curl-7@test.local>\r\n\r\nGui tu curl.\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	runTool(t, curl, "-sS", "--url", "smtp://"+ts.AddrSMTP(), "--mail-from", sender.Addr, "--mail-rcpt", rcpt.Addr,
		"--user", sender.Addr+":Sender-Pass-1", "--upload-file", msg)

	imapURL := "imap://" + ts.AddrIMAP()
	user := rcpt.Local + ":Rcpt-Pass-2"
	list := runTool(t, curl, "-sS", "--url", imapURL+"/", "--user", user)
	for _, box := range []string{"INBOX", "Sent", "Drafts"} {
		if !strings.Contains(list, box) {
			t.Errorf("LIST lacks %s: %q", box, list)
		}
	}
	search := runTool(t, curl, "-sS", "--url", imapURL+"/INBOX", "--user", user, "-X", "UID SEARCH HEADER Message-ID curl-7@test.local")
	fields := strings.Fields(strings.TrimSpace(search))
	if len(fields) != 3 || fields[1] != "SEARCH" {
		t.Fatalf("search: %q", search)
	}
	body := runTool(t, curl, "-sS", "--url", imapURL+"/INBOX/;UID="+fields[2], "--user", user)
	if !strings.Contains(body, "Gui tu curl.") || !strings.Contains(body, "Received: from") {
		t.Errorf("fetched message: %q", body)
	}
	// A wrong password is refused.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := exec.CommandContext(ctx, curl, "-sS", "--url", imapURL+"/", "--user", rcpt.Local+":wrong").Run(); err == nil {
		t.Errorf("curl logged in with a wrong password")
	}
	// And the webmail answers curl too.
	page := runTool(t, curl, "-sS", "http://"+ts.AddrHTTP()+"/webmail/login")
	if !strings.Contains(page, "Đăng nhập") {
		t.Errorf("webmail login page: %q", page[:min(200, len(page))])
	}
}
