package corpus

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestFoldAndHandle(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Đặng Thị Hồng Nhung", "dangthihongnhung"},
		{"Sở Thông tin và Truyền thông", "sothongtinvatruyenthong"},
		{"UBND xã Phú Lộc 2", "ubndxaphuloc2"},
	}
	for _, tt := range tests {
		if got := Fold(tt.in); got != tt.want {
			t.Errorf("Fold(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	p := Person{Family: "Nguyễn", Middle: "Văn", Given: "Hùng"}
	if p.Handle() != "hungnv" || p.Full() != "Nguyễn Văn Hùng" || p.Honorific() != "Ông" {
		t.Errorf("%q %q", p.Handle(), p.Full())
	}
}

func TestParsePerson(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		p := NewPerson(r)
		q := ParsePerson(p.Full())
		if q.Full() != p.Full() || q.Family != p.Family || q.Given != p.Given {
			t.Fatalf("%+v parsed as %+v", p, q)
		}
		if p.Middle == "Thị" && !q.Female {
			t.Fatalf("%s read as a man", p.Full())
		}
	}
	if ParsePerson("").Full() != "  " {
		t.Error("empty name")
	}
}

func TestPasswordLists(t *testing.T) {
	words := CommonPasswords()
	if len(words) < 300 || words[0] != "123456" {
		t.Fatalf("%d words, first %q", len(words), words[0])
	}
	seen := map[string]bool{}
	for _, w := range words {
		if seen[w] {
			t.Fatalf("duplicate %q", w)
		}
		seen[w] = true
	}
	if !slices.Equal(words, CommonPasswords()) {
		t.Error("wordlist order is not stable")
	}
	obvious := ObviousPasswords("hungnv.stttt", "lachong")
	if len(obvious) != 4 || obvious[0] != "Lachong@2024" || obvious[1] != "hungnv@123" {
		t.Errorf("%v", obvious)
	}
}

func TestTextIsVietnameseAndVaried(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	subjects := map[string]bool{}
	for range 100 {
		subjects[Subject(r)] = true
	}
	if len(subjects) < 60 {
		t.Errorf("only %d different subjects in 100", len(subjects))
	}
	body := Body(r, Person{Family: "Lê", Middle: "Thị", Given: "Lan", Female: true}, Signature{Name: "Trần Văn B", Title: "Giám đốc", Agency: "Sở Y tế", Phone: "0203.3.1234"}, "")
	for _, want := range []string{"Kính gửi: Bà Lê Thị Lan", "Trân trọng", "Sở Y tế"} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
}
