package portal

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"testing"

	"github.com/cyrange/cyrange/images/portal/contract"
)

// TestInflightShareSparesTheRangesOwnNetworks: a visitor past its share
// of requests in flight is answered 429, while the range's own networks
// (the checkers', on the admin allow-list) are not throttled, so that a
// tick's many checker tasks never count against the defence.
func TestInflightShareSparesTheRangesOwnNetworks(t *testing.T) {
	// Each request the portal lets through holds its slot in a link
	// preview of this server until the phase releases it.
	events := make(chan string, 16)
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		events <- "in flight"
		<-release
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(slow.Close)
	const share = 2
	s, err := New(context.Background(), Config{Listen: "127.0.0.1", Sites: 10, Dossiers: 100, Seed: 3,
		Weaknesses: map[string]bool{contract.SSRFImport: true}, OperatorPassword: "operator-pw-123",
		AdminAllow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, Limits: Limits{InflightPerSource: share}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	preview := "http://" + s.AddrHTTP() + "/tien-ich/xem-truoc?" + url.Values{"url": {slow.URL}}.Encode()

	// send makes n requests at once from src and reports, as they come,
	// each one that got into the portal and each one it turned away.
	send := func(src string, n int) *http.Client {
		hc := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{
			LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}).DialContext}}
		for range n {
			go func() {
				resp, err := hc.Get(preview)
				if err != nil {
					events <- "error " + err.Error()
					return
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusTooManyRequests {
					events <- "throttled"
				}
			}()
		}
		return hc
	}
	count := func(n int) map[string]int {
		got := map[string]int{}
		for range n {
			got[<-events]++
		}
		return got
	}

	// A visitor: its share gets in, the rest is turned away.
	visitor := send("127.0.8.1", share+2)
	if got := count(share + 2); got["in flight"] != share || got["throttled"] != 2 {
		t.Errorf("a visitor's %d requests at once: %v, want %d in flight and 2 throttled", share+2, got, share)
	}
	// The range's own network: every request gets in.
	own := send("127.0.0.1", share+2)
	if got := count(share + 2); got["in flight"] != share+2 {
		t.Errorf("the range's own %d requests at once: %v, want all in flight", share+2, got)
	}
	close(release)
	visitor.CloseIdleConnections()
	own.CloseIdleConnections()
}
