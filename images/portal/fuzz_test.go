package portal

import (
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cyrange/cyrange/internal/firewall"
)

// FuzzParseReceipt: a code parses only as HS and eight digits, and
// prints back as itself.
func FuzzParseReceipt(f *testing.F) {
	for _, s := range []string{"HS00050123", " hs00000001 ", "HS0000000", "HS-0001", "HS00000000", "HSabcdefgh", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := parseReceipt(s)
		if err != nil {
			return
		}
		if id <= 0 || receiptCode(id) != strings.ToUpper(strings.TrimSpace(s)) {
			t.Fatalf("parseReceipt(%q) = %d", s, id)
		}
	})
}

// FuzzParseCitizenID: only twelve ASCII digits pass.
func FuzzParseCitizenID(f *testing.F) {
	for _, s := range []string{"082090123456", " 082090123456", "08209012345", "08209012345a", "０８２０９０１２３４５６", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := parseCitizenID(s)
		if err != nil {
			return
		}
		if len(id) != 12 || strings.Trim(id, "0123456789") != "" {
			t.Fatalf("parseCitizenID(%q) = %q", s, id)
		}
	})
}

// FuzzParseImportURL: an accepted address is http(s) with a host and a
// numeric port.
func FuzzParseImportURL(f *testing.F) {
	for _, s := range []string{"http://example.vn/a", "https://127.0.0.1:8025/quantri/api/export", "file:///etc/passwd", "gopher://x", "http://user:pw@host/", "http://[::1]:80/", "http://host:abc/", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := parseImportURL(s)
		if err != nil {
			return
		}
		if u.Scheme != "http" && u.Scheme != "https" || u.Hostname() == "" || len(s) > maxURLLen+len(s)-len(strings.TrimSpace(s)) {
			t.Fatalf("parseImportURL(%q) = %v", s, u)
		}
	})
}

// FuzzParseCookie: any cookie value is refused or read without panic; a
// value made by signCookie under the key reads back its claims, and no
// other key verifies it.
func FuzzParseCookie(f *testing.F) {
	good := signCookie([]byte(DefaultSessionSecret), claims{User: "vanthu.tinh", Gen: 1, SID: "abc", Expires: time.Unix(1900000000, 0)})
	for _, s := range []string{good, "", ".", "x." + strings.Repeat("0", 64), good + "x", strings.Repeat("A", 2000)} {
		f.Add(s, "vanthu.tinh")
	}
	f.Fuzz(func(t *testing.T, value, user string) {
		_, _ = parseCookie([]byte(DefaultSessionSecret), value)
		if user == "" || !utf8.ValidString(user) || len(user) > 100 {
			return
		}
		v := signCookie([]byte("k1"), claims{User: user, SID: "s", Expires: time.Unix(1900000000, 0)})
		c, err := parseCookie([]byte("k1"), v)
		if len(v) <= maxCookieLen && (err != nil || c.User != user) {
			t.Fatalf("round trip of %q: %+v, %v", user, c, err)
		}
		if _, err := parseCookie([]byte("k2"), v); err == nil {
			t.Fatal("another key verified the cookie")
		}
	})
}

// FuzzForms: the form and query fields handlers read never panic and
// stay within their bounds.
func FuzzForms(f *testing.F) {
	for _, s := range []string{"q=tin+t%E1%BB%A9c&site=tinh", "name=%00%ff&body=" + strings.Repeat("a", 100), "a=1&a=2;b", "%zz", "filename=../../etc/passwd"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, _ := url.ParseQuery(raw)
		for _, vals := range v {
			for _, x := range vals {
				if c := clip(x, 100); len(c) > 100 || !utf8.ValidString(x) == false && !utf8.ValidString(c) {
					t.Fatalf("clip(%q) = %q", x, c)
				}
				n := cleanFileName(x)
				if n == "" || len(n) > 120 || strings.ContainsAny(n, "/\\\x00\"") {
					t.Fatalf("cleanFileName(%q) = %q", x, n)
				}
				_ = parsePage(x)
				_, _ = parseID(x)
				_, _ = firewall.Parse(x)
				_, _ = parseHosts(x)
				_ = validPhone(x)
			}
		}
	})
}
