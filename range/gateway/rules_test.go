package gateway

import (
	"maps"
	"net/netip"
	"reflect"
	"slices"
	"testing"
)

func TestParseRules(t *testing.T) {
	pfx := netip.MustParsePrefix
	for _, tc := range []struct {
		desc, in string
		want     []Rule
		wantErr  bool
	}{
		{desc: "empty", in: "", want: nil},
		{desc: "address and port", in: "127.61.1.2:10025", want: []Rule{{Prefix: pfx("127.61.1.2/32"), FirstPort: 10025, LastPort: 10025}}},
		{desc: "range and spaces", in: " 127.61.1.2:10143-10144 , ,10.61.0.0/16:*",
			want: []Rule{{Prefix: pfx("127.61.1.2/32"), FirstPort: 10143, LastPort: 10144}, {Prefix: pfx("10.61.0.0/16"), FirstPort: 0, LastPort: 0}}},
		{desc: "no port means every port", in: "127.61.1.2", want: []Rule{{Prefix: pfx("127.61.1.2/32"), FirstPort: 0, LastPort: 0}}},
		{desc: "prefix is masked", in: "10.61.1.7/24:80", want: []Rule{{Prefix: pfx("10.61.1.0/24"), FirstPort: 80, LastPort: 80}}},
		{desc: "ipv6 in brackets", in: "[fd00::1]:25,[fd00::/64]", want: []Rule{{Prefix: pfx("fd00::1/128"), FirstPort: 25, LastPort: 25}, {Prefix: pfx("fd00::/64"), FirstPort: 0, LastPort: 0}}},
		{desc: "bare ipv6", in: "fd00::1", want: []Rule{{Prefix: pfx("fd00::1/128"), FirstPort: 0, LastPort: 0}}},
		{desc: "mapped v4 unmapped", in: "[::ffff:127.0.0.1]:80", want: []Rule{{Prefix: pfx("127.0.0.1/32"), FirstPort: 80, LastPort: 80}}},
		{desc: "rewrite", in: "10.61.1.10:25=10.60.7.10:25,10.61.1.10:80=10.60.7.10",
			want: []Rule{{Prefix: pfx("10.61.1.10/32"), FirstPort: 25, LastPort: 25, Dial: netip.MustParseAddr("10.60.7.10"), DialPort: 25},
				{Prefix: pfx("10.61.1.10/32"), FirstPort: 80, LastPort: 80, Dial: netip.MustParseAddr("10.60.7.10")}}},
		{desc: "rewrite ipv6", in: "[fd00::1]:25=[fd00::2]:2525",
			want: []Rule{{Prefix: pfx("fd00::1/128"), FirstPort: 25, LastPort: 25, Dial: netip.MustParseAddr("fd00::2"), DialPort: 2525}}},
		{desc: "rewrite of a prefix", in: "10.61.1.0/24:25=10.60.7.10", wantErr: true},
		{desc: "port rewrite of a range", in: "10.61.1.10:25-26=10.60.7.10:25", wantErr: true},
		{desc: "port rewrite of every port", in: "10.61.1.10=10.60.7.10:25", wantErr: true},
		{desc: "rewrite to a name", in: "10.61.1.10:25=mail", wantErr: true},
		{desc: "rewrite to port zero", in: "10.61.1.10:25=10.60.7.10:0", wantErr: true},
		{desc: "port zero", in: "127.0.0.1:0", wantErr: true},
		{desc: "port too big", in: "127.0.0.1:65536", wantErr: true},
		{desc: "leading zero", in: "127.0.0.1:080", wantErr: true},
		{desc: "backwards range", in: "127.0.0.1:90-80", wantErr: true},
		{desc: "name", in: "mail.example:25", wantErr: true},
		{desc: "zone", in: "[fe80::1%eth0]:25", wantErr: true},
		{desc: "unclosed bracket", in: "[fd00::1:25", wantErr: true},
		{desc: "junk after bracket", in: "[fd00::1]25", wantErr: true},
		{desc: "empty port", in: "127.0.0.1:", wantErr: true},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			got, err := ParseRules(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v, want error %v", err, tc.wantErr)
			}
			if !tc.wantErr && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRuleAllows(t *testing.T) {
	rules, err := ParseRules("127.61.1.2:10025,127.61.2.0/24:10080-10090,127.61.3.3")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		dest string
		want bool
	}{
		{"127.61.1.2:10025", true},
		{"127.61.1.2:10026", false},
		{"127.61.1.3:10025", false},
		{"127.61.2.200:10080", true},
		{"127.61.2.200:10090", true},
		{"127.61.2.200:10091", false},
		{"127.61.3.3:1", true},
		{"[::ffff:127.61.1.2]:10025", true},
	} {
		ap := netip.MustParseAddrPort(tc.dest)
		got := slices.ContainsFunc(rules, func(r Rule) bool { return r.Allows(ap.Addr(), ap.Port()) })
		if got != tc.want {
			t.Errorf("%s: allowed %v, want %v", tc.dest, got, tc.want)
		}
	}
}

func TestParseNames(t *testing.T) {
	a := netip.MustParseAddr
	got, err := ParseNames("Mail.TienGiang.gov.vn.=127.61.1.2, webmail=127.61.1.2,webmail=127.61.1.2")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]netip.Addr{"mail.tiengiang.gov.vn": a("127.61.1.2"), "webmail": a("127.61.1.2")}
	if !maps.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for _, bad := range []string{"mail", "mail=", "=127.0.0.1", "mail=host", "a b=127.0.0.1", "x=1.1.1.1,x=2.2.2.2", "a..b=127.0.0.1", "m=[::1]"} {
		if _, err := ParseNames(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestRuleDestination(t *testing.T) {
	rules, err := ParseRules("10.61.1.10:25=10.60.7.10,10.61.1.10:80=10.60.7.10:8080,10.61.2.0/24:*")
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"10.60.7.10:25", "10.60.7.10:8080", "10.61.2.7:22"} {
		asked := []netip.AddrPort{netip.MustParseAddrPort("10.61.1.10:25"), netip.MustParseAddrPort("10.61.1.10:80"), netip.MustParseAddrPort("10.61.2.7:22")}[i]
		if got := rules[i].Destination(asked.Addr(), asked.Port()); got.String() != want {
			t.Errorf("rule %v: %v goes to %v, want %s", rules[i], asked, got, want)
		}
	}
}

func TestCommandRoundTrip(t *testing.T) {
	rules, _ := ParseRules("127.61.1.2:10025,[fd00::/64]:*,10.61.1.10:25=10.60.7.10:25")
	c := Command{
		Team: "Đội 7 (Cà Mau)", User: "a07", TokenEnv: "TOKEN_7", Listen: "127.0.0.1:0",
		Source: netip.MustParseAddr("127.60.7.2"), Allow: rules,
		Resolve: map[string]netip.Addr{"mail.example": netip.MustParseAddr("127.61.1.2")}, Verbose: true,
	}
	args := c.Args()
	if args[0] != "gateway" {
		t.Fatalf("args %q", args)
	}
	got, err := ParseCommand(args[1:], nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, c) {
		t.Errorf("round trip\n got %+v\nwant %+v", got, c)
	}
}
