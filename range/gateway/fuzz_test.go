package gateway

import (
	"maps"
	"net/netip"
	"reflect"
	"testing"
	"time"
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
	f.Fuzz(func(t *testing.T, b []byte) {
		c, ok, err := ParseTelemetry(b)
		if !ok || err != nil {
			return
		}
		out, err := MarshalTelemetry(c)
		if err != nil {
			t.Fatalf("record %+v does not format: %v", c, err)
		}
		c2, ok, err := ParseTelemetry(out)
		if !ok || err != nil || !reflect.DeepEqual(c, c2) {
			t.Fatalf("round trip of %q: %+v then %+v (%v)", b, c, c2, err)
		}
	})
}
