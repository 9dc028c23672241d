package mailserver

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/cyrange/cyrange/images/mailserver/contract"
	"github.com/cyrange/cyrange/images/mailserver/webclient"
)

// The intruder is already inside when the defence applies a remedy: these
// tests open real clients' sessions first (python imaplib and smtplib,
// curl with a cookie jar), apply the remedy in the console, deliver new
// mail, and then try those same sessions again. A remedy must end what it
// makes invalid, and only that: the checker's sessions go on.

// insideClient logs in over IMAP and SMTP from a given source address
// (each after `brute` wrong passwords on the same connection), says
// "ready", waits for a line on stdin, then uses both sessions again and
// prints what happened. An SMTP session the server ended answers 421 or
// is closed.
const insideClient = `
import imaplib, json, smtplib, socket, sys
host, smtp_port, imap_port, user, pw, src, brute, vrfy = sys.argv[1:9]
class IMAP(imaplib.IMAP4):
    def _create_socket(self, timeout):
        return socket.create_connection((self.host, self.port), timeout, source_address=(src, 0))
out = {}
im = IMAP(host, int(imap_port), timeout=10)
for i in range(int(brute)):
    try:
        im.login(user, "wrong-%d" % i)
    except imaplib.IMAP4.error:
        pass
im.login(user, pw)
im.select("INBOX")
sm = smtplib.SMTP(host, int(smtp_port), timeout=10, source_address=(src, 0))
sm.ehlo("PC-VANTHU-01")
if vrfy != "-":
    out["vrfy_before"] = sm.verify(vrfy)[0]
for i in range(int(brute)):
    try:
        sm.login(user, "wrong-%d" % i)
    except smtplib.SMTPAuthenticationError:
        pass
sm.login(user, pw)
print("ready", flush=True)
sys.stdin.readline()
try:
    im.select("INBOX")
    typ, data = im.search(None, "HEADER", "Message-ID", "after-remedy@test")
    out["imap"] = "read %d" % len(data[0].split())
except Exception as e:
    out["imap"] = "ended: " + type(e).__name__
try:
    if vrfy != "-":
        out["vrfy_after"] = sm.verify(vrfy)[0]
    code, _ = sm.mail(user)
    out["smtp"] = "mail %d" % code
except Exception as e:
    out["smtp"] = "ended: " + type(e).__name__
print(json.dumps(out), flush=True)
`

type insideResult struct {
	IMAP       string `json:"imap"`
	SMTP       string `json:"smtp"`
	VRFYBefore int    `json:"vrfy_before"`
	VRFYAfter  int    `json:"vrfy_after"`
}

// insider is a running insideClient.
type insider struct {
	t     *testing.T
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
}

type insideOpts struct {
	user, password, src string
	brute               int
	vrfy                string
}

func startInsider(t *testing.T, py string, ts *testServer, o insideOpts) *insider {
	t.Helper()
	host, smtpPort := hostPort(t, ts.AddrSMTP())
	_, imapPort := hostPort(t, ts.AddrIMAP())
	if o.vrfy == "" {
		o.vrfy = "-"
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	cmd := exec.CommandContext(ctx, py, "-c", insideClient, host, smtpPort, imapPort, o.user, o.password, o.src, strconv.Itoa(o.brute), o.vrfy)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	in := &insider{t: t, cmd: cmd, stdin: stdin, out: bufio.NewReader(stdout)}
	line, err := in.out.ReadString('\n')
	if strings.TrimSpace(line) != "ready" {
		t.Fatalf("python client did not get in: %q %v\n%s", line, err, stderr.String())
	}
	return in
}

// again lets the client use its sessions again and returns what it saw.
func (in *insider) again() insideResult {
	in.t.Helper()
	if _, err := io.WriteString(in.stdin, "go\n"); err != nil {
		in.t.Fatal(err)
	}
	line, err := in.out.ReadString('\n')
	if err != nil {
		in.t.Fatalf("python client: %v", err)
	}
	var res insideResult
	if err := json.Unmarshal([]byte(line), &res); err != nil {
		in.t.Fatalf("python output %q: %v", line, err)
	}
	return res
}

// ended reports whether both of the client's sessions were ended.
func (r insideResult) ended() bool {
	return strings.HasPrefix(r.IMAP, "ended") && (strings.HasPrefix(r.SMTP, "ended") || r.SMTP == "mail 421")
}

// curlJar is a browser's cookie jar kept by curl, from one source address.
type curlJar struct {
	t    *testing.T
	curl string
	jar  string
}

func newCurlJar(t *testing.T, curl string) *curlJar {
	return &curlJar{t: t, curl: curl, jar: filepath.Join(t.TempDir(), "cookies.txt")}
}

// status requests url from src with the jar's cookies (and form fields
// when given, as a POST) and returns the HTTP status.
func (c *curlJar) status(src, url string, form ...string) int {
	c.t.Helper()
	args := []string{"-sS", "-o", "/dev/null", "-w", "%{http_code}", "--interface", src, "-b", c.jar, "-c", c.jar}
	for _, f := range form {
		args = append(args, "--data-urlencode", f)
	}
	out := strings.TrimSpace(runTool(c.t, c.curl, append(args, url)...))
	code, err := strconv.Atoi(out)
	if err != nil {
		c.t.Fatalf("curl status %q", out)
	}
	return code
}

// masterSession is the checker's IMAP session on acct, opened before the
// remedy.
func masterSession(t *testing.T, ts *testServer, acct *Account) *imapclient.Client {
	t.Helper()
	c := dialIMAP(t, ts.AddrIMAP())
	if err := c.Login(acct.Addr, contract.MasterPassword(testSecret, "", acct.Addr)).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	return c
}

// readsNewMail reports whether an open session still reads the message
// delivered after the remedy.
func readsNewMail(c *imapclient.Client) bool {
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		return false
	}
	res, err := c.UIDSearch(&imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Message-ID", Value: "after-remedy@test"}}}, nil).Wait()
	return err == nil && len(res.AllUIDs()) == 1
}

// deliverAfter delivers the message a session still inside would read.
func deliverAfter(t *testing.T, ts *testServer, to *Account) {
	t.Helper()
	head := ts.dir.Agencies[1].Head
	if err := sendMaster(t, ts.AddrSMTP(), testSecret, head, []string{to.Addr}, []byte("Message-ID: <after-remedy@test>\r\nSubject: Mat\r\n\r\nNoi dung mat.\r\n")); err != nil {
		t.Fatal(err)
	}
}

func consoleFor(t *testing.T, ts *testServer) *webclient.Admin {
	adm := webclient.NewAdmin("http://"+ts.AddrAdmin(), nil, OperatorUser, "operator-pass-1")
	t.Cleanup(adm.Close)
	return adm
}

// TestRemediesEvictSessionsInside: for every remedy of the README, the
// sessions it makes invalid end on every protocol, and the checker's and
// other users' sessions go on.
func TestRemediesEvictSessionsInside(t *testing.T) {
	py := needTool(t, "python3")
	curl := needTool(t, "curl")
	const attacker = "127.0.0.2"

	t.Run("password reset", func(t *testing.T) {
		ts := startServer(t, "all")
		leader := ts.dir.Leaders[0]
		ts.sec.setPassword(leader, "Lachong@2024")
		in := startInsider(t, py, ts, insideOpts{user: leader.Addr, password: "Lachong@2024", src: attacker})
		web := newCurlJar(t, curl)
		base := "http://" + ts.AddrHTTP()
		if code := web.status(attacker, base+"/webmail/login", "username="+leader.Addr, "password=Lachong@2024"); code != http.StatusSeeOther {
			t.Fatalf("webmail login: %d", code)
		}
		checker := masterSession(t, ts, leader)
		if _, err := consoleFor(t, ts).ResetPassword(ctxT(t), leader.Addr, ""); err != nil {
			t.Fatal(err)
		}
		deliverAfter(t, ts, leader)
		if res := in.again(); !res.ended() {
			t.Errorf("the intruder's sessions after the reset: %+v", res)
		}
		if code := web.status(attacker, base+"/webmail/api/messages"); code != http.StatusUnauthorized {
			t.Errorf("the intruder's webmail cookie after the reset: %d", code)
		}
		if !readsNewMail(checker) {
			t.Error("the checker's session ended with the reset")
		}
	})

	t.Run("lockout after a brute force", func(t *testing.T) {
		ts := startServer(t, "all")
		clerk, _ := ts.dir.Lookup("vanthu.vpubnd")
		ts.sec.setPassword(clerk, "123456789")
		in := startInsider(t, py, ts, insideOpts{user: clerk.Addr, password: "123456789", src: attacker, brute: 8})
		honest := ts.account(t, RoleDeputy, "Honest-Pass-1")
		other := startInsider(t, py, ts, insideOpts{user: honest.Addr, password: "Honest-Pass-1", src: "127.0.0.3"})
		checker := masterSession(t, ts, clerk)
		if _, err := consoleFor(t, ts).Update(ctxT(t), webclient.Settings{Lockout: webclient.Bool(true)}); err != nil {
			t.Fatal(err)
		}
		deliverAfter(t, ts, clerk)
		if res := in.again(); !res.ended() {
			t.Errorf("the brute-forced sessions after the lockout: %+v", res)
		}
		if res := other.again(); res.IMAP != "read 0" || res.SMTP != "mail 250" {
			t.Errorf("an honest user's sessions after the lockout: %+v", res)
		}
		if !readsNewMail(checker) {
			t.Error("the checker's session ended with the lockout")
		}
	})

	t.Run("source block", func(t *testing.T) {
		ts := startServer(t, "all")
		acct := ts.account(t, RoleStaff, "Staff-Pass-1")
		in := startInsider(t, py, ts, insideOpts{user: acct.Addr, password: "Staff-Pass-1", src: attacker})
		web := newCurlJar(t, curl)
		base := "http://" + ts.AddrHTTP()
		if code := web.status(attacker, base+"/webmail/login", "username="+acct.Addr, "password=Staff-Pass-1"); code != http.StatusSeeOther {
			t.Fatalf("webmail login: %d", code)
		}
		checker := masterSession(t, ts, acct)
		if _, err := consoleFor(t, ts).Block(ctxT(t), attacker+"/32"); err != nil {
			t.Fatal(err)
		}
		deliverAfter(t, ts, acct)
		if res := in.again(); !res.ended() {
			t.Errorf("sessions from the blocked source: %+v", res)
		}
		// The cookie got from the blocked source opens nothing from
		// another one either.
		if code := web.status("127.0.0.3", base+"/webmail/api/messages"); code != http.StatusUnauthorized {
			t.Errorf("the blocked source's cookie from elsewhere: %d", code)
		}
		if !readsNewMail(checker) {
			t.Error("the checker's session ended with the block")
		}
	})

	t.Run("admin password change", func(t *testing.T) {
		ts := startServer(t, "all")
		intruder := newCurlJar(t, curl)
		if code := intruder.status(attacker, "http://"+ts.AddrHTTP()+"/admin/login", "username=admin", "password="+DefaultAdminPassword); code != http.StatusSeeOther {
			t.Fatalf("admin login on the webmail: %d", code)
		}
		defence := newCurlJar(t, curl)
		adminBase := "http://" + ts.AddrAdmin()
		if code := defence.status("127.0.0.1", adminBase+"/admin/login", "username=operator", "password=operator-pass-1"); code != http.StatusSeeOther {
			t.Fatalf("operator login: %d", code)
		}
		if code := defence.status("127.0.0.1", adminBase+"/admin/password", "user=admin", "password=Mat-Khau-Moi-2024!"); code != http.StatusSeeOther {
			t.Fatalf("password change: %d", code)
		}
		if code := intruder.status(attacker, "http://"+ts.AddrHTTP()+"/admin/api/status"); code != http.StatusUnauthorized {
			t.Errorf("the intruder's console cookie after the change: %d", code)
		}
		if code := defence.status("127.0.0.1", adminBase+"/admin/api/status"); code != http.StatusOK {
			t.Errorf("the defence's console session after the change: %d", code)
		}
	})

	t.Run("console off the webmail", func(t *testing.T) {
		ts := startServer(t, "all")
		intruder := newCurlJar(t, curl)
		base := "http://" + ts.AddrHTTP()
		if code := intruder.status(attacker, base+"/admin/login", "username=admin", "password="+DefaultAdminPassword); code != http.StatusSeeOther {
			t.Fatalf("admin login on the webmail: %d", code)
		}
		adm := consoleFor(t, ts)
		if _, err := adm.Update(ctxT(t), webclient.Settings{AdminOnWebmail: webclient.Bool(false)}); err != nil {
			t.Fatal(err)
		}
		// Opened again later, the console must not let the old cookie in.
		if _, err := adm.Update(ctxT(t), webclient.Settings{AdminOnWebmail: webclient.Bool(true)}); err != nil {
			t.Fatal(err)
		}
		if code := intruder.status(attacker, base+"/admin/api/status"); code != http.StatusUnauthorized {
			t.Errorf("the console cookie got on the webmail: %d", code)
		}
	})

	t.Run("VRFY off", func(t *testing.T) {
		ts := startServer(t, "all")
		acct := ts.account(t, RoleStaff, "Staff-Pass-1")
		in := startInsider(t, py, ts, insideOpts{user: acct.Addr, password: "Staff-Pass-1", src: attacker, vrfy: ts.dir.Leaders[0].Local})
		if _, err := consoleFor(t, ts).Update(ctxT(t), webclient.Settings{VRFY: webclient.Bool(false)}); err != nil {
			t.Fatal(err)
		}
		deliverAfter(t, ts, acct)
		// Turning VRFY off invalidates no password: the session stays,
		// but its next VRFY is refused.
		if res := in.again(); res.VRFYBefore != 250 || res.VRFYAfter != 502 || res.SMTP != "mail 250" {
			t.Errorf("VRFY on an open connection: %+v", res)
		}
	})

	for _, patch := range []struct {
		name string
		set  webclient.Settings
		path func(other, own int64) string
	}{
		{"IDOR patch", webclient.Settings{IDORPatched: webclient.Bool(true)},
			func(other, _ int64) string { return "/webmail/api/message?id=" + strconv.FormatInt(other, 10) }},
		{"traversal patch", webclient.Settings{TraversalPatched: webclient.Bool(true)},
			func(_, own int64) string {
				return "/webmail/download?id=" + strconv.FormatInt(own, 10) + "&file=../../../../../../etc/vnmail/vnmail.conf"
			}},
	} {
		t.Run(patch.name, func(t *testing.T) {
			ts := startServer(t, "all")
			acct := ts.account(t, RoleStaff, "Staff-Pass-1")
			leader := ts.dir.Leaders[0]
			other, err := ts.store.deliver(leader, "Drafts", []byte("Subject: mat\r\n\r\nmat\r\n"), nil, writer{system: true})
			if err != nil {
				t.Fatal(err)
			}
			own, err := ts.store.deliver(acct, "Drafts", []byte("Subject: nhap\r\n\r\nnhap\r\n"), nil, writer{system: true})
			if err != nil {
				t.Fatal(err)
			}
			web := newCurlJar(t, curl)
			base := "http://" + ts.AddrHTTP()
			if code := web.status(attacker, base+"/webmail/login", "username="+acct.Addr, "password=Staff-Pass-1"); code != http.StatusSeeOther {
				t.Fatalf("webmail login: %d", code)
			}
			if code := web.status(attacker, base+patch.path(other, own)); code != http.StatusOK {
				t.Fatalf("before the patch: %d", code)
			}
			if _, err := consoleFor(t, ts).Update(ctxT(t), patch.set); err != nil {
				t.Fatal(err)
			}
			if code := web.status(attacker, base+patch.path(other, own)); code != http.StatusNotFound {
				t.Errorf("the same session after the patch: %d", code)
			}
			// Patches invalidate no login: the user's own mail still opens.
			if code := web.status(attacker, base+"/webmail/api/message?id="+strconv.FormatInt(own, 10)); code != http.StatusOK {
				t.Errorf("own message after the patch: %d", code)
			}
		})
	}
}
