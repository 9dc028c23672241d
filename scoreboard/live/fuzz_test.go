package live

import (
	"bytes"
	"encoding/json"
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
		if q, ok := quickStamp(b); ok {
			// The quick path must agree with the JSON decoder whenever
			// the message is valid JSON.
			var full stamp
			if json.Valid(b) && singleKeys(b) && (json.Unmarshal(b, &full) != nil || full != q) {
				t.Fatalf("quick %+v, JSON %+v for %q", q, full, b)
			}
		}
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

// singleKeys reports whether b, a valid JSON object, names each of type,
// seq and at at most once at its top level (the JSON decoder matches keys
// without regard to case and keeps the last of repeated ones).
func singleKeys(b []byte) bool {
	d := json.NewDecoder(bytes.NewReader(b))
	seen := map[string]bool{}
	depth := 0
	expectKey := false
	for {
		tok, err := d.Token()
		if err != nil {
			return true
		}
		if v, ok := tok.(json.Delim); ok {
			if v == '{' || v == '[' {
				depth++
			} else {
				depth--
			}
			expectKey = depth == 1
			continue
		}
		if depth != 1 {
			continue
		}
		if k, ok := tok.(string); ok && expectKey {
			for _, name := range []string{"type", "seq", "at"} {
				if strings.EqualFold(k, name) {
					if seen[name] {
						return false
					}
					seen[name] = true
				}
			}
			expectKey = false
			continue
		}
		expectKey = true
	}
}
