package persource

import (
	"net"
	"testing"
)

// FuzzOf: any address yields a source without panicking; a valid one is
// an IPv4 /32 or an IPv6 /64 holding the address, whatever the port.
func FuzzOf(f *testing.F) {
	for _, s := range []string{"192.0.2.7:4000", "[2001:db8::1]:443", "[::ffff:10.0.0.1]:80", "[fe80::1%eth0]:22",
		"10.0.0.1", "", ":80", "[::1", "host:port", "1.2.3.4:99999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, addr string) {
		p := Of(addr)
		if !p.IsValid() {
			return
		}
		if p.Bits() != 32 && p.Bits() != 64 || p.Addr().Is4() != (p.Bits() == 32) || p != p.Masked() {
			t.Fatalf("Of(%q) = %s", addr, p)
		}
		if host, _, err := net.SplitHostPort(addr); err == nil {
			if q := Of(net.JoinHostPort(host, "1")); q != p {
				t.Fatalf("Of(%q) = %s but with another port %s", addr, p, q)
			}
		}
	})
}
