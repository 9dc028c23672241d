package live

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzOriginAllowed feeds the Origin check whatever a client may send.
func FuzzOriginAllowed(f *testing.F) {
	f.Add("http://127.0.0.1:8080", "127.0.0.1:8080")
	f.Add("https://board.example", "127.0.0.1:8080")
	f.Add("null", "board.example")
	f.Add("HTTP://Board.Example", "board.example")
	f.Fuzz(func(t *testing.T, origin, host string) {
		allowed := []string{"https://board.example", "relay.example:8443"}
		ok := originAllowed(origin, host, allowed)
		alone := originAllowed(origin, host, nil)
		if alone && !ok {
			t.Fatalf("a list refused what the same host allows: %q on %q", origin, host)
		}
		if !ok {
			return
		}
		u, err := url.Parse(origin)
		if err != nil {
			t.Fatalf("allowed an unparsable origin %q", origin)
		}
		if alone && !strings.EqualFold(u.Host, host) {
			t.Fatalf("allowed %q on %q without a list", origin, host)
		}
		if !alone && !strings.EqualFold(u.Host, "board.example") && !strings.EqualFold(u.Host, "relay.example:8443") {
			t.Fatalf("allowed %q, which the list does not hold", origin)
		}
	})
}

// FuzzDecodeStamp feeds the load generator's decoder whatever a server may
// send.
func FuzzDecodeStamp(f *testing.F) {
	f.Add([]byte(`{"type":"snapshot","seq":3,"phase":"running","tick":1,"tickEndsAt":null,"frozen":false,"teams":[],"services":[],"standings":[],"status":{},"recent":[]}`))
	f.Add([]byte(`{"type":"delta","seq":4,"at":1763884800000000000,"standings":[{"team":"a","teamId":0,"total":1}]}`))
	f.Add([]byte(`{"type":"bogus","seq":-1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeStamp(b)
		if err != nil {
			return
		}
		switch s.Type {
		case TypeSnapshot, TypeDelta, TypeTick, TypeEvent:
		default:
			t.Fatalf("accepted type %q", s.Type)
		}
	})
}
