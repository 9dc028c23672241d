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
		{desc: "address and port", in: "127.61.1.2:10025", want: []Rule{{pfx("127.61.1.2/32"), 10025, 10025}}},
		{desc: "range and spaces", in: " 127.61.1.2:10143-10144 , ,10.61.0.0/16:*",
			want: []Rule{{pfx("127.61.1.2/32"), 10143, 10144}, {pfx("10.61.0.0/16"), 0, 0}}},
		{desc: "no port means every port", in: "127.61.1.2", want: []Rule{{pfx("127.61.1.2/32"), 0, 0}}},
		{desc: "prefix is masked", in: "10.61.1.7/24:80", want: []Rule{{pfx("10.61.1.0/24"), 80, 80}}},
		{desc: "ipv6 in brackets", in: "[fd00::1]:25,[fd00::/64]", want: []Rule{{pfx("fd00::1/128"), 25, 25}, {pfx("fd00::/64"), 0, 0}}},
		{desc: "bare ipv6", in: "fd00::1", want: []Rule{{pfx("fd00::1/128"), 0, 0}}},
		{desc: "mapped v4 unmapped", in: "[::ffff:127.0.0.1]:80", want: []Rule{{pfx("127.0.0.1/32"), 80, 80}}},
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

func TestCommandRoundTrip(t *testing.T) {
	rules, _ := ParseRules("127.61.1.2:10025,[fd00::/64]:*")
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
