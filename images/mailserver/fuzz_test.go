package mailserver

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/cyrange/cyrange/internal/firewall"
)

var fuzzMethods = []string{http.MethodGet, http.MethodPost, http.MethodHead, http.MethodPut}

var fuzzContentTypes = []string{
	"application/x-www-form-urlencoded",
	"application/json",
	"multipart/form-data; boundary=XyZ",
	"",
	"text/plain",
}

func fuzzRequest(method, contentType uint8, target string, body []byte) (*http.Request, bool) {
	if strings.ContainsAny(target, " \r\n\t") || !strings.HasPrefix(target, "/") {
		return nil, false
	}
	req, err := http.NewRequest(fuzzMethods[int(method)%len(fuzzMethods)], "http://mail.lachong.gov.vn"+target, bytes.NewReader(body))
	if err != nil {
		return nil, false
	}
	if ct := fuzzContentTypes[int(contentType)%len(fuzzContentTypes)]; ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	req.RemoteAddr = "10.0.3.15:40000"
	return req, true
}

// FuzzWebmailRequest sends arbitrary requests, logged in as one user, to a
// patched webmail: nothing may panic or fail with a 500, no message of
// another user may come back, and no file but an attachment may be read.
func FuzzWebmailRequest(f *testing.F) {
	s, err := New(Config{Accounts: MinAccounts, Seed: 1})
	if err != nil {
		f.Fatal(err)
	}
	h := s.webmailHandler()
	user := s.dir.Accounts[20]
	f.Add(uint8(0), uint8(0), "/webmail/read?id=100001", []byte(nil))
	f.Add(uint8(0), uint8(0), "/webmail/api/message?id=100002", []byte(nil))
	f.Add(uint8(0), uint8(0), "/webmail/download?id=101280&file=../../../../etc/passwd", []byte(nil))
	f.Add(uint8(1), uint8(1), "/webmail/api/send", []byte(`{"to":["vanthu.stttt@lachong.gov.vn"],"subject":"x","text":"y","attachments":[{"name":"a.txt","data":"YWJj"}]}`))
	f.Add(uint8(1), uint8(2), "/webmail/compose", []byte("--XyZ\r\nContent-Disposition: form-data; name=\"to\"\r\n\r\nvanthu.snv@lachong.gov.vn\r\n--XyZ\r\nContent-Disposition: form-data; name=\"attachment\"; filename=\"..\\\\a.pdf\"\r\n\r\n%PDF\r\n--XyZ--\r\n"))
	f.Add(uint8(1), uint8(0), "/webmail/login", []byte("username=admin&password=%00"))
	f.Add(uint8(0), uint8(0), "/webmail/inbox?folder=Drafts&page=-3&q=%C4%91", []byte(nil))
	f.Fuzz(func(t *testing.T, method, ct uint8, target string, body []byte) {
		req, ok := fuzzRequest(method, ct, target, body)
		if !ok {
			return
		}
		login := httptest.NewRecorder()
		s.webSessions.create(login, &session{acct: user}, "/webmail/")
		for _, c := range login.Result().Cookies() {
			req.AddCookie(c)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s: %d %s", req.Method, target, rec.Code, rec.Body.String())
		}
		if rec.Code != http.StatusOK {
			return
		}
		switch req.URL.Path {
		case "/webmail/api/message":
			var m struct{ ID int64 }
			if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
				t.Fatalf("message answer is not JSON: %v", err)
			}
			if owner, _ := s.store.owner(m.ID); owner != user {
				t.Fatalf("read message %d of %v", m.ID, owner)
			}
		case "/webmail/download":
			if b := rec.Body.String(); strings.Contains(b, "root:x:0:0") || strings.Contains(b, "mail_location") || strings.HasPrefix(b, "From ") {
				t.Fatalf("patched download served a server file for %q", target)
			}
		}
	})
}

// FuzzAdminRequest sends arbitrary requests to the console as the
// operator: nothing may panic or fail with a 500.
func FuzzAdminRequest(f *testing.F) {
	s, err := New(Config{Accounts: MinAccounts, Seed: 1, OperatorPassword: "operator-pass"})
	if err != nil {
		f.Fatal(err)
	}
	h := s.adminHandler(true)
	f.Add(uint8(1), uint8(1), "/admin/api/settings", []byte(`{"vrfy":false,"lockThreshold":3,"blocked":["10.0.3.0/24"]}`))
	f.Add(uint8(1), uint8(1), "/admin/api/firewall", []byte(`{"block":["10.0.5.7","::1/129"]}`))
	f.Add(uint8(1), uint8(1), "/admin/api/users/password", []byte(`{"addr":"vanthu.stttt","password":""}`))
	f.Add(uint8(1), uint8(0), "/admin/settings", []byte("vrfy=on&lockout=1&threshold=0"))
	f.Add(uint8(1), uint8(0), "/admin/firewall", []byte("cidr=10.0.0.0/8+1.2.3.4&action=unblock"))
	f.Add(uint8(0), uint8(0), "/admin/mailbox?addr=vanthu.stttt@lachong.gov.vn&folder=INBOX&page=2", []byte(nil))
	f.Add(uint8(0), uint8(0), "/admin/message?id=99999999999999999999", []byte(nil))
	f.Add(uint8(0), uint8(0), "/admin/users?q=nguy%E1%BB%85n&role=leader", []byte(nil))
	f.Fuzz(func(t *testing.T, method, ct uint8, target string, body []byte) {
		req, ok := fuzzRequest(method, ct, target, body)
		if !ok {
			return
		}
		req.SetBasicAuth(OperatorUser, "operator-pass")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s: %d %s", req.Method, target, rec.Code, rec.Body.String())
		}
	})
}

// FuzzParseSettingsForm checks the console's settings form and range lists.
func FuzzParseSettingsForm(f *testing.F) {
	f.Add("vrfy=on&lockout=on&threshold=5&patch_idor=1", "10.0.3.0/24, 10.0.4.7")
	f.Add("threshold=abc", "::1/128 fe80::/10")
	f.Add("threshold=101&admin_on_webmail=true", "10.0.0.0/33")
	f.Fuzz(func(t *testing.T, form, ranges string) {
		v, err := url.ParseQuery(form)
		if err == nil {
			out, err := parseSettingsForm(v, Settings{LockThreshold: 5})
			if err == nil && (out.LockThreshold < 1 || out.LockThreshold > 100) {
				t.Fatalf("threshold %d accepted", out.LockThreshold)
			}
		}
		ps, err := firewall.Parse(ranges)
		if err != nil {
			return
		}
		for _, p := range ps {
			if p != p.Masked() {
				t.Fatalf("%v is not masked", p)
			}
			again, err := firewall.Parse(p.String())
			if err != nil || len(again) != 1 || again[0] != p {
				t.Fatalf("%v does not parse back: %v %v", p, again, err)
			}
		}
	})
}

// FuzzSplitAddresses checks the recipients field of the compose form.
func FuzzSplitAddresses(f *testing.F) {
	f.Add("Nguyễn Văn A <hungnv.stttt@lachong.gov.vn>; vanthu.snv@lachong.gov.vn")
	f.Add(`"a,b" <x@y>, <@>, a@b@c`)
	f.Fuzz(func(t *testing.T, field string) {
		for _, a := range splitAddresses(field) {
			if strings.Count(a, "@") != 1 || strings.ContainsAny(a, " \t\r\n<>\"") || a != strings.ToLower(a) {
				t.Fatalf("bad address %q from %q", a, field)
			}
		}
		if _, err := parseID(field); err == nil && strings.TrimSpace(field) == "" {
			t.Fatal("empty id accepted")
		}
	})
}

// scriptConn is a net.Conn that reads a script and records what is
// written back.
type scriptConn struct {
	r   io.Reader
	out bytes.Buffer
}

func (c *scriptConn) Read(p []byte) (int, error)  { return c.r.Read(p) }
func (c *scriptConn) Write(p []byte) (int, error) { return c.out.Write(p) }
func (c *scriptConn) Close() error                { return nil }
func (c *scriptConn) LocalAddr() net.Addr         { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 25} }
func (c *scriptConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(10, 0, 3, 9), Port: 5000}
}
func (c *scriptConn) SetDeadline(time.Time) error      { return nil }
func (c *scriptConn) SetReadDeadline(time.Time) error  { return nil }
func (c *scriptConn) SetWriteDeadline(time.Time) error { return nil }

// FuzzSMTPCommandFilter feeds arbitrary client bytes through the layer that
// answers VRFY and EXPN: it must pass everything else through unchanged and
// answer with well-formed reply lines.
func FuzzSMTPCommandFilter(f *testing.F) {
	s, err := New(Config{Accounts: MinAccounts, Seed: 1, Weaknesses: map[string]bool{"smtp_vrfy": true}})
	if err != nil {
		f.Fatal(err)
	}
	leader := s.dir.Leaders[0].Addr
	f.Add([]byte("EHLO x\r\nVRFY " + leader + "\r\nEXPN <" + leader + ">\r\nQUIT\r\n"))
	f.Add([]byte("MAIL FROM:<a@b>\r\nBDAT 12 LAST\r\nVRFY inside\r\nvrfy\r\n"))
	f.Add([]byte("DATA\r\nVRFY x\r\n.\r\nexpn lanhdao\r\n"))
	f.Add(bytes.Repeat([]byte("A"), 5000))
	f.Fuzz(func(t *testing.T, in []byte) {
		sc := &scriptConn{r: bytes.NewReader(in)}
		c := newSMTPConn(sc, s)
		got, err := io.ReadAll(c)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) > len(in) {
			t.Fatalf("filter added bytes")
		}
		if !bytes.Contains(bytes.ToUpper(in), []byte("VRFY")) && !bytes.Contains(bytes.ToUpper(in), []byte("EXPN")) && !bytes.Equal(got, in) {
			t.Fatalf("filter changed a script without VRFY or EXPN")
		}
		for line := range strings.Lines(sc.out.String()) {
			if len(line) < 6 || !strings.HasSuffix(line, "\r\n") || line[0] < '2' || line[0] > '5' || line[3] != ' ' && line[3] != '-' {
				t.Fatalf("malformed reply %q", line)
			}
		}
	})
}

// FuzzVirtualPath reads arbitrary paths, as the unpatched attachment
// download does: only the planted layout may answer.
func FuzzVirtualPath(f *testing.F) {
	s, err := New(Config{Accounts: MinAccounts, Seed: 1, CheckerSecret: "fuzz-checker-secret", OperatorPassword: "fuzz-operator-password"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add("../../../../etc/passwd")
	f.Add("../../../../var/mail/lachong.gov.vn/vanthu.stttt/INBOX")
	f.Add("../100001/CV_123_stttt.pdf")
	f.Add("../../../../proc/self/environ")
	f.Fuzz(func(t *testing.T, name string) {
		p := path.Clean(attachmentRoot + "/100001/" + name)
		data, ok := s.readFile(p)
		if !ok {
			return
		}
		allowed := strings.HasPrefix(p, mailRoot+"/"+s.dir.Domain+"/") || strings.HasPrefix(p, attachmentRoot+"/") || strings.HasPrefix(p, "/etc/")
		if !allowed || bytes.Contains(data, []byte("fuzz-checker-secret")) || bytes.Contains(data, []byte("fuzz-operator-password")) {
			t.Fatalf("%s answered", p)
		}
	})
}
