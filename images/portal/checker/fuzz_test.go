package checker_test

import (
	"strings"
	"testing"

	"github.com/cyrange/cyrange/images/portal/checker"
)

// FuzzParseDirectory reads an officer directory page, which a defender
// (or an intruder) may have changed: it must not panic, and every officer
// it returns has a login fit to send back as a user name.
func FuzzParseDirectory(f *testing.F) {
	f.Add([]byte(`<table><tr><th>Họ và tên</th></tr><tr><td>Nguyễn Văn An</td><td>Văn thư</td><td>vanthu.tinh@lachong.gov.vn</td><td>0273.5.1234</td></tr></table>`))
	f.Add([]byte(`<tr><td>&lt;b&gt;</td><td>x</td><td>a&#64;b@c</td><td></td></tr>`))
	f.Add([]byte(`<tr><td></td><td></td><td> @</td><td></td></tr>`))
	f.Fuzz(func(t *testing.T, page []byte) {
		for _, o := range checker.ParseDirectory(page) {
			if o.User == "" || strings.ContainsAny(o.User, " \t\r\n<>\"'") || o.User != strings.ToLower(o.User) {
				t.Fatalf("%q gave officer %+v", page, o)
			}
		}
	})
}

// FuzzParseSiteLinks reads the component portals a page links to: each
// once, each a code fit for a path segment.
func FuzzParseSiteLinks(f *testing.F) {
	f.Add([]byte(`<li><a href="/p/stttt/">Sở TT&TT</a></li><li><a href="/p/hcaibe/">Cái Bè</a></li><a href="/p/stttt/">`))
	f.Add([]byte(`href="/p/../"href="/p/a/b/"`))
	f.Fuzz(func(t *testing.T, page []byte) {
		seen := map[string]bool{}
		for _, code := range checker.ParseSiteLinks(page) {
			if code == "" || seen[code] || strings.Trim(code, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
				t.Fatalf("%q gave site %q", page, code)
			}
			seen[code] = true
		}
	})
}
