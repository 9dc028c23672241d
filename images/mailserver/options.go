package mailserver

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/cyrange/cyrange/images/mailserver/contract"
	"github.com/cyrange/cyrange/scenarios"
)

// MaxAccounts bounds a replica's directory: beyond it startup time and
// memory outgrow the container's limits.
const MaxAccounts = 100_000

// optionKeys are the scenario options the target reads (each becomes the
// flag of the same name, underscores as dashes); the range sets the
// others (addresses, ports, the admin console's allowed sources, the
// checker secret) itself.
var optionKeys = []string{"accounts", "admin_password", "domain", "province", "seed", "weaknesses"}

// CheckOptions checks a scenario's options for the mail server as
// RunTarget reads them, reporting every problem at once.
func CheckOptions(o scenarios.Options) []scenarios.OptionProblem {
	var out []scenarios.OptionProblem
	bad := func(key, format string, args ...any) {
		out = append(out, scenarios.OptionProblem{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	for _, k := range slices.Sorted(maps.Keys(o)) {
		v := o[k]
		switch k {
		case "accounts":
			n, ok := v.(int)
			switch {
			case !ok:
				bad(k, "must be a whole number")
			case n < MinAccounts || n > MaxAccounts:
				bad(k, "must be %d to %d mailboxes (got %d)", MinAccounts, MaxAccounts, n)
			}
		case "seed":
			if n, ok := v.(int); !ok || n < 0 {
				bad(k, "must be a whole number, 0 or more")
			}
		case "domain":
			s, ok := v.(string)
			if !ok || !isDomain(s) {
				bad(k, "must be a mail domain such as tiengiang.gov.vn")
			}
		case "province", "admin_password":
			if s, ok := v.(string); !ok || strings.TrimSpace(s) == "" {
				bad(k, "must be text")
			}
		case "weaknesses":
			m, ok := v.(scenarios.Options)
			if !ok {
				bad(k, "must be a mapping of weakness names to true or false (%s)", strings.Join(contract.Weaknesses(), ", "))
				continue
			}
			for _, name := range slices.Sorted(maps.Keys(m)) {
				key := k + "." + name
				if !slices.Contains(contract.Weaknesses(), name) {
					bad(key, "unknown weakness (known: %s)", strings.Join(contract.Weaknesses(), ", "))
					continue
				}
				if _, ok := m[name].(bool); !ok {
					bad(key, "must be true or false")
				}
			}
		default:
			bad(k, "unknown option of the mail server (known: %s)", strings.Join(optionKeys, ", "))
		}
	}
	return out
}

// isDomain accepts dot-separated labels of letters, digits and dashes.
func isDomain(s string) bool {
	labels := strings.Split(s, ".")
	if len(s) > 253 || len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}
