package contract

import (
	"strings"
	"testing"
)

func TestParseWeaknesses(t *testing.T) {
	tests := []struct {
		in   string
		want int
		err  bool
	}{
		{"", 0, false},
		{"none", 0, false},
		{"all", 6, false},
		{"ALL", 6, false},
		{"smtp_vrfy, no_lockout,", 2, false},
		{"smtp_vrfy,sqli", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseWeaknesses(tt.in)
		if (err != nil) != tt.err || err == nil && len(got) != tt.want {
			t.Errorf("%q: %v %v", tt.in, got, err)
		}
	}
}

func TestMasterPassword(t *testing.T) {
	a := MasterPassword("s", "mail.d01", "hungnv.stttt@lachong.gov.vn")
	if a != MasterPassword("s", "mail.d01", " HungNV.STTTT@lachong.gov.vn ") {
		t.Error("the address's case or spaces change the password")
	}
	if a == MasterPassword("s", "mail.d01", "vanthu.stttt@lachong.gov.vn") || a == MasterPassword("t", "mail.d01", "hungnv.stttt@lachong.gov.vn") {
		t.Error("passwords collide across accounts or secrets")
	}
	if a == MasterPassword("s", "mail.d02", "hungnv.stttt@lachong.gov.vn") || a == MasterPassword("s", "", "hungnv.stttt@lachong.gov.vn") {
		t.Error("passwords collide across replicas")
	}
	// The separator keeps replica and address apart.
	if MasterPassword("s", "a", "b@c") == MasterPassword("s", "", "ab@c") {
		t.Error("replica and address run together")
	}
	if len(a) != 24 || strings.ToLower(a) != a {
		t.Errorf("password %q", a)
	}
	if MasterPassword("", "r", "x@y") != "" {
		t.Error("an empty secret gives a master password")
	}
	if len(Stores()) != 3 || Stores()[0] != StoreInbox || Stores()[1] != StoreDrafts || Stores()[2] != StoreAttachments {
		t.Errorf("stores %v", Stores())
	}
}
