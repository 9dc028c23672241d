package rangetest

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/cyrange/cyrange/scenarios"
)

// addressSlots is how many tests on this machine may hold a network of
// their own at once. Slot k owns 127.(100+3k..102+3k).x.x on the
// loopback, and on Docker two /16s among 10.20-10.103 and 10.19.k.0/24:
// clear of the defaults (127.60-62, 10.60-62) that people's own ranges
// use, and of the fixed subnets of range/docker's own tests (10.170-189).
const addressSlots = 40

// Network returns address plans no other test on this machine holds until
// t ends, for a test that brings a range up: its teams, replicas,
// checkers and gateways never collide with another test's, in this run
// or in another `go test` running at the same time. The slot is held by a
// lock file in the temporary directory, which the kernel releases if the
// test binary dies.
func Network(t testing.TB) scenarios.Network {
	t.Helper()
	dir := filepath.Join(os.TempDir(), "cyrange-test-addresses")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatalf("rangetest: %v", err)
	}
	for _, k := range rand.Perm(addressSlots) {
		f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("%02d.lock", k)), os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			t.Fatalf("rangetest: %v", err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			continue
		}
		t.Cleanup(func() { f.Close() })
		return slotNetwork(k)
	}
	t.Fatalf("rangetest: all %d address slots are held by other tests", addressSlots)
	return scenarios.Network{}
}

func slotNetwork(k int) scenarios.Network {
	o := 100 + 3*k
	// .0.1 of the local teams' range is never a team's (index 0 is set
	// aside): the gateways listen there, on both drivers.
	gateways := netip.MustParseAddrPort(fmt.Sprintf("127.%d.0.1:1080", o))
	d := 20 + 2*k
	if d >= 60 {
		d += 4 // past the defaults, 10.60-62
	}
	return scenarios.Network{
		Local: scenarios.AddressPlan{
			Teams:    netip.MustParsePrefix(fmt.Sprintf("127.%d.0.0/16", o)),
			Replicas: netip.MustParsePrefix(fmt.Sprintf("127.%d.0.0/16", o+1)),
			Checkers: netip.MustParsePrefix(fmt.Sprintf("127.%d.0.0/24", o+2)),
			Gateways: gateways,
		},
		Docker: scenarios.AddressPlan{
			Teams:    netip.MustParsePrefix(fmt.Sprintf("10.%d.0.0/16", d)),
			Replicas: netip.MustParsePrefix(fmt.Sprintf("10.%d.0.0/16", d+1)),
			Checkers: netip.MustParsePrefix(fmt.Sprintf("10.19.%d.0/24", k)),
			Gateways: gateways,
		},
	}
}
