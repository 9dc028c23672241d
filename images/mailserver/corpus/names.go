// Package corpus is the vocabulary of the provincial mail replica: Vietnamese
// personal names, agency names, document subjects and bodies, and the
// password lists that people actually pick. The target draws its directory and
// its background traffic from it, and the checker its users' traffic, so that
// the checker's mail reads like everybody else's.
//
// Everything is drawn from a caller's *rand.Rand, so the same seed always
// gives the same province. It must never import the target, the checker or
// the exploits.
package corpus

import (
	"math/rand/v2"
	"slices"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Family names, weighted roughly as they occur in Vietnam (Nguyễn first).
var familyNames = []struct {
	name   string
	weight int
}{
	{"Nguyễn", 38}, {"Trần", 11}, {"Lê", 9}, {"Phạm", 7}, {"Hoàng", 5},
	{"Huỳnh", 4}, {"Phan", 4}, {"Vũ", 4}, {"Võ", 3}, {"Đặng", 2},
	{"Bùi", 2}, {"Đỗ", 2}, {"Hồ", 2}, {"Ngô", 2}, {"Dương", 1},
	{"Lý", 1}, {"Đinh", 1}, {"Trương", 1}, {"Lương", 1}, {"Mai", 1},
}

var maleMiddle = []string{"Văn", "Văn", "Văn", "Hữu", "Đức", "Minh", "Quốc", "Thanh", "Công", "Xuân", "Đình", "Ngọc", "Tiến", "Trọng", "Quang"}
var femaleMiddle = []string{"Thị", "Thị", "Thị", "Thu", "Ngọc", "Thanh", "Hồng", "Minh", "Kim", "Phương", "Diệu", "Bích"}

var maleGiven = []string{
	"Hùng", "Dũng", "Tuấn", "Nam", "Sơn", "Long", "Hải", "Minh", "Quang", "Thắng",
	"Cường", "Hiếu", "Trung", "Phong", "Bình", "Thành", "Khoa", "Huy", "Đạt", "Vinh",
	"Tùng", "Toàn", "Lâm", "Phúc", "Hưng", "Tâm", "Việt", "Thịnh", "Lợi", "Khánh",
	"Hoàng", "Kiên", "Tài", "Nghĩa", "Duy", "Quý", "An", "Bảo", "Chiến", "Hòa",
}

var femaleGiven = []string{
	"Lan", "Hương", "Mai", "Hà", "Linh", "Trang", "Thảo", "Phương", "Hằng", "Nga",
	"Huyền", "Yến", "Ngọc", "Thủy", "Loan", "Dung", "Nhung", "Oanh", "Vân", "Hạnh",
	"Quyên", "Trinh", "Tuyết", "Hiền", "Giang", "Anh", "Châu", "Diệp", "My", "Nhi",
}

// Person is a generated official's name.
type Person struct {
	Family, Middle, Given string
	Female                bool
}

// Full is the name as written: family, middle, given.
func (p Person) Full() string { return p.Family + " " + p.Middle + " " + p.Given }

// Handle is the usual local-part stem of a government address: the given
// name followed by the initials of the family and middle names, without
// diacritics ("Nguyễn Văn Hùng" gives "hungnv").
func (p Person) Handle() string {
	return Fold(p.Given) + initial(p.Family) + initial(p.Middle)
}

// Honorific is "Ông" or "Bà", as letters address an official.
func (p Person) Honorific() string {
	if p.Female {
		return "Bà"
	}
	return "Ông"
}

func initial(s string) string {
	f := Fold(s)
	if f == "" {
		return ""
	}
	return f[:1]
}

// NewPerson draws a name.
func NewPerson(r *rand.Rand) Person {
	total := 0
	for _, f := range familyNames {
		total += f.weight
	}
	n := r.IntN(total)
	family := familyNames[0].name
	for _, f := range familyNames {
		if n < f.weight {
			family = f.name
			break
		}
		n -= f.weight
	}
	if r.IntN(100) < 45 {
		return Person{Family: family, Middle: pick(r, femaleMiddle), Given: pick(r, femaleGiven), Female: true}
	}
	return Person{Family: family, Middle: pick(r, maleMiddle), Given: pick(r, maleGiven)}
}

func pick[T any](r *rand.Rand, list []T) T { return list[r.IntN(len(list))] }

// Fold lowercases s and strips Vietnamese diacritics, keeping only ASCII
// letters and digits: what an address or a URL slug is made of.
func Fold(s string) string {
	var b strings.Builder
	for _, c := range norm.NFD.String(s) {
		switch {
		case c == 'đ' || c == 'Đ':
			b.WriteByte('d')
		case unicode.Is(unicode.Mn, c):
		case c < 128 && (unicode.IsLetter(c) || unicode.IsDigit(c)):
			b.WriteRune(unicode.ToLower(c))
		}
	}
	return b.String()
}

// ParsePerson reads a written full name back into its parts, guessing the
// person's sex from the middle or given name, as a reader of a signature
// would.
func ParsePerson(full string) Person {
	f := strings.Fields(full)
	var p Person
	switch len(f) {
	case 0:
		return p
	case 1:
		p.Given = f[0]
	case 2:
		p.Family, p.Given = f[0], f[1]
	default:
		p.Family, p.Middle, p.Given = f[0], strings.Join(f[1:len(f)-1], " "), f[len(f)-1]
	}
	switch {
	case p.Middle == "Thị" || strings.HasPrefix(p.Middle, "Thị "):
		p.Female = true
	case slices.Contains(maleGiven, p.Given):
	case slices.Contains(femaleGiven, p.Given):
		p.Female = true
	}
	return p
}
