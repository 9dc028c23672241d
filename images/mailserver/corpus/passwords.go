package corpus

import (
	"strings"
	"unicode"
)

var digitPasswords = []string{
	"123456", "123456789", "12345678", "111111", "123123", "1234567890",
	"000000", "654321", "666666", "888888", "121212", "112233", "123321",
	"1234567", "999999", "686868", "868686", "147258369", "159753", "123654",
}

var passwordWords = []string{
	"matkhau", "password", "anhyeuem", "iloveyou", "qwerty", "abc", "admin",
	"vietnam", "hanoi", "saigon", "emyeuanh", "yeuem", "thienthan", "hoangtu",
	"congchua", "bongda", "muaxuan", "vanthu", "vanphong", "ketoan", "ubnd",
	"congvu", "email", "thudientu", "coquan", "hanhchinh", "quantri", "user",
	"welcome", "changeme",
}

var passwordSuffixes = []string{"", "123", "@123", "1", "2023", "2024", "@2024", "!", "12345", "@", "88", "99"}

// CommonPasswords is a wordlist of the passwords people in Vietnamese offices
// pick most, most frequent first: what an attacker tries when guessing
// online. It is built from patterns (numbers, common words and the suffixes
// people add to meet a policy), so its order is stable.
func CommonPasswords() []string {
	out := append([]string(nil), digitPasswords...)
	seen := make(map[string]bool, 512)
	for _, p := range out {
		seen[p] = true
	}
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, suffix := range passwordSuffixes {
		for _, w := range passwordWords {
			add(w + suffix)
		}
	}
	for _, suffix := range []string{"@123", "@2024", "123"} {
		for _, w := range passwordWords {
			add(capitalize(w) + suffix)
		}
	}
	return out
}

// ObviousPasswords are the first guesses for one person's account: a policy
// compliant password everyone in the province picks, and the address's local
// part with the usual suffix. province is the province's short name in ASCII
// ("lachong").
func ObviousPasswords(local, province string) []string {
	stem := local
	if i := strings.IndexByte(stem, '.'); i > 0 {
		stem = stem[:i]
	}
	return []string{
		capitalize(province) + "@2024",
		stem + "@123",
		"123456a@",
		"Abc@123",
	}
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}
