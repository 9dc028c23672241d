package firewall

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	cases := []struct {
		desc, list string
		want       []string
		bad        bool
	}{
		{desc: "empty", list: " ,\n", want: nil},
		{desc: "ranges masked", list: "10.0.3.7/24, 10.0.4.0/24", want: []string{"10.0.3.0/24", "10.0.4.0/24"}},
		{desc: "addresses as their own range", list: "10.0.5.7 ::1", want: []string{"10.0.5.7/32", "::1/128"}},
		{desc: "an IPv4-mapped address is IPv4", list: "::ffff:10.0.5.7", want: []string{"10.0.5.7/32"}},
		{desc: "tabs and newlines separate", list: "10.0.0.0/8\t192.168.1.1\r\n", want: []string{"10.0.0.0/8", "192.168.1.1/32"}},
		{desc: "a bad bit count", list: "10.0.0.0/33", bad: true},
		{desc: "a name", list: "10.0.0.1, mail.lachong.gov.vn", bad: true},
	}
	for _, c := range cases {
		t.Run(c.desc, func(t *testing.T) {
			got, err := Parse(c.list)
			if c.bad {
				if err == nil {
					t.Fatalf("accepted: %v", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var s []string
			for _, p := range got {
				s = append(s, p.String())
			}
			if !slices.Equal(s, c.want) {
				t.Errorf("got %v, want %v", s, c.want)
			}
		})
	}
}

func TestContains(t *testing.T) {
	ranges := mustParse(t, "10.0.3.0/24 2001:db8::/64")
	cases := []struct {
		src  string
		want bool
	}{
		{"10.0.3.200", true},
		{"::ffff:10.0.3.200", true},
		{"10.0.4.1", false},
		{"2001:db8::1", true},
		{"2001:db8:0:1::1", false},
	}
	for _, c := range cases {
		if got := Contains(ranges, netip.MustParseAddr(c.src)); got != c.want {
			t.Errorf("%s: %v, want %v", c.src, got, c.want)
		}
	}
	if Contains(nil, netip.MustParseAddr("10.0.3.1")) || Contains(ranges, netip.Addr{}) {
		t.Error("no ranges, or no address, contained")
	}
}

func TestUpdate(t *testing.T) {
	cur := mustParse(t, "10.0.1.0/24 10.0.2.0/24")
	got := Update(cur, mustParse(t, "10.0.3.0/24 10.0.1.0/24"), mustParse(t, "10.0.2.0/24"))
	if want := mustParse(t, "10.0.1.0/24 10.0.3.0/24"); !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if want := mustParse(t, "10.0.1.0/24 10.0.2.0/24"); !slices.Equal(cur, want) {
		t.Errorf("the current list changed: %v", cur)
	}
}

func TestSource(t *testing.T) {
	cases := map[string]string{
		"10.0.3.7:4000":          "10.0.3.7",
		"[::ffff:10.0.3.7]:4000": "10.0.3.7",
		"[2001:db8::1]:80":       "2001:db8::1",
		"10.0.3.7":               "invalid IP",
		"@":                      "invalid IP",
	}
	for in, want := range cases {
		if got := Source(in).String(); got != want {
			t.Errorf("%q: %s, want %s", in, got, want)
		}
	}
	if got := SourceOf(&net.TCPAddr{IP: net.ParseIP("10.0.3.7"), Port: 1}); got != netip.MustParseAddr("10.0.3.7") {
		t.Errorf("SourceOf: %v", got)
	}
	if SourceOf(nil).IsValid() {
		t.Error("a nil address has a source")
	}
}

// TestGuard dials a guarded listener from two loopback sources: the
// refused one is told of and closed before the server sees it, the other
// is served.
func TestGuard(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := netip.MustParseAddr("127.0.0.2")
	denied := make(chan netip.Addr, 1)
	g := Guard(ln, func(a netip.Addr) bool { return a != refused }, func(c net.Conn) { denied <- SourceOf(c.RemoteAddr()) })
	defer g.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := g.Accept()
		if err == nil {
			_, _ = io.WriteString(c, "hello")
			accepted <- c
		}
	}()

	dial := func(src string) net.Conn {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		return c
	}
	bad := dial("127.0.0.2")
	defer bad.Close()
	if got := <-denied; got != refused {
		t.Errorf("denied %v", got)
	}
	if n, err := bad.Read(make([]byte, 8)); n != 0 || !errors.Is(err, io.EOF) {
		t.Errorf("the refused source read %d bytes, %v", n, err)
	}

	good := dial("127.0.0.3")
	defer good.Close()
	c := <-accepted
	defer c.Close()
	b, err := io.ReadAll(io.LimitReader(good, 5))
	if err != nil || string(b) != "hello" {
		t.Errorf("the allowed source got %q, %v", b, err)
	}
}

// FuzzParse feeds the console's range lists, which whoever holds the
// console types: whatever parses is masked and reads back the same.
func FuzzParse(f *testing.F) {
	f.Add("10.0.3.0/24, 10.0.4.7")
	f.Add("::1/128 fe80::/10")
	f.Add("10.0.0.0/33")
	f.Add("::ffff:10.1.2.3/120")
	f.Fuzz(func(t *testing.T, list string) {
		ps, err := Parse(list)
		if err != nil {
			return
		}
		for _, p := range ps {
			if p != p.Masked() {
				t.Fatalf("%v is not masked", p)
			}
			again, err := Parse(p.String())
			if err != nil || len(again) != 1 || again[0] != p {
				t.Fatalf("%v does not parse back: %v %v", p, again, err)
			}
		}
	})
}

func mustParse(t *testing.T, list string) []netip.Prefix {
	t.Helper()
	ps, err := Parse(list)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}
