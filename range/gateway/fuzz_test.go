package gateway

import (
	"bytes"
	"maps"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/cyrange/cyrange/images/flow"
)

// FuzzParseRules checks that any accepted --allow list formats back to a
// list that parses to the same rules.
func FuzzParseRules(f *testing.F) {
	for _, s := range []string{"127.61.1.2:10025", "10.0.0.0/8:*,[fd00::1]:1-2", "fd00::1", "[::ffff:1.2.3.4]:9", " , ", "1.2.3.4:0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rules, err := ParseRules(s)
		if err != nil {
			return
		}
		again, err := ParseRules(FormatRules(rules))
		if err != nil {
			t.Fatalf("%q formatted as %q: %v", s, FormatRules(rules), err)
		}
		if !reflect.DeepEqual(again, rules) && !(len(again) == 0 && len(rules) == 0) {
			t.Fatalf("%q: %v then %v", s, rules, again)
		}
		for _, r := range rules {
			if !r.Prefix.IsValid() || r.Prefix != r.Prefix.Masked() || r.LastPort < r.FirstPort {
				t.Fatalf("%q: bad rule %+v", s, r)
			}
		}
	})
}

// FuzzParseNames checks that accepted --resolve lists round-trip and hold
// only normalized names.
func FuzzParseNames(f *testing.F) {
	for _, s := range []string{"mail.example=127.0.0.1", "A.B.=::1,a.b=::1", "x=1.1.1.1,x=2.2.2.2", "=", "a_b-c=10.0.0.1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		names, err := ParseNames(s)
		if err != nil {
			return
		}
		for n := range names {
			if k, err := normalizeName(n); err != nil || k != n {
				t.Fatalf("%q: key %q not normalized", s, n)
			}
		}
		again, err := ParseNames(FormatNames(names))
		if err != nil || !maps.Equal(again, names) {
			t.Fatalf("%q: round trip %v, %v", s, again, err)
		}
	})
}

// FuzzParseTelemetry checks that whatever a gateway's output holds, the
// reader either skips it, rejects it, or returns a record that formats
// back to the same record.
func FuzzParseTelemetry(f *testing.F) {
	line, _ := MarshalTelemetry(Conn{Team: "Đội 7", Client: netip.MustParseAddrPort("127.0.0.1:5000"),
		Host: "mail.example", Target: netip.MustParseAddr("127.61.1.2"), Port: 10025,
		Start: time.Unix(1700000000, 0).UTC(), End: time.Unix(1700000001, 5).UTC(), BytesUp: 10, BytesDown: 20})
	f.Add(line)
	f.Add([]byte(`time=2024-01-01 level=INFO msg="gateway: serving"`))
	f.Add([]byte(`{"telemetry":null}`))
	f.Add([]byte(`{"telemetry":{"target":"nope"}}`))
	open, _ := MarshalTelemetry(Conn{Team: "a07", Client: netip.MustParseAddrPort("127.0.0.1:5001"),
		Target: netip.MustParseAddr("127.61.1.10"), Port: 10143, Start: time.Unix(1700000000, 0).UTC(),
		State: "open", Run: "9f86d081884c7d65", ID: 3, At: time.Unix(1700000000, 2000).UTC()})
	f.Add(open)
	beat, _ := MarshalTelemetry(Conn{Team: "a07", State: "heartbeat", Run: "9f86d081884c7d65", At: time.Unix(1700000005, 0).UTC()})
	f.Add(beat)
	f.Add([]byte(`{"telemetry":{"team":"a07","state":"paused","run":"x","at":"2024-05-01T08:00:00Z"}}`))
	f.Add([]byte(`{"telemetry":{"team":"a07","state":"interim","run":"x","at":"2024-05-01T08:00:00Z"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, ok, err := ParseTelemetry(b)
		if !ok || err != nil {
			return
		}
		if c.State != "" && (!flow.Kind(c.State).Valid() || c.Run == "" || c.At.IsZero() ||
			(c.State != "heartbeat" && (c.ID == 0 || c.Start.IsZero()))) {
			t.Fatalf("accepted %q as %+v", b, c)
		}
		out, err := MarshalTelemetry(c)
		if err != nil {
			t.Fatalf("record %+v does not format: %v", c, err)
		}
		// Compared as formatted: a zero offset reads back as UTC, the
		// same instant in another *time.Location.
		c2, ok, err := ParseTelemetry(out)
		out2, _ := MarshalTelemetry(c2)
		if !ok || err != nil || !bytes.Equal(out, out2) || !c.Start.Equal(c2.Start) || !c.At.Equal(c2.At) {
			t.Fatalf("round trip of %q: %+v then %+v (%v)", b, c, c2, err)
		}
	})
}
