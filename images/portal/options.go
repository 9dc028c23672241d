package portal

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/cyrange/cyrange/images/portal/contract"
	"github.com/cyrange/cyrange/scenarios"
)

// optionKeys are the scenario options the target reads (each becomes the
// flag of the same name, underscores as dashes); the range sets the
// others (addresses, ports, the admin console's allowed sources, the
// checker secret, the replica's name) itself.
var optionKeys = []string{"admin_password", "domain", "dossiers", "mail_account", "mail_domain", "mail_password", "province", "seed", "sites", "weaknesses"}

// CheckOptions checks a scenario's options for the portal as Run reads
// them, reporting every problem at once.
func CheckOptions(o scenarios.Options) []scenarios.OptionProblem {
	var out []scenarios.OptionProblem
	bad := func(key, format string, args ...any) {
		out = append(out, scenarios.OptionProblem{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	for _, k := range slices.Sorted(maps.Keys(o)) {
		v := o[k]
		switch k {
		case "sites":
			if n, ok := v.(int); !ok || n < 1 || n > MaxSites {
				bad(k, "must be a whole number of sites, 1 to %d (the main portal and its component portals)", MaxSites)
			}
		case "dossiers":
			if n, ok := v.(int); !ok || n < 0 || n > MaxDossiers {
				bad(k, "must be a whole number of generated dossiers, 0 to %d", MaxDossiers)
			}
		case "seed":
			if n, ok := v.(int); !ok || n < 0 {
				bad(k, "must be a whole number, 0 or more")
			}
		case "domain", "mail_domain":
			if s, ok := v.(string); !ok || !isDomain(s) {
				bad(k, "must be a domain such as tiengiang.gov.vn")
			}
		case "mail_account":
			if s, ok := v.(string); !ok || !isLocalPart(s) {
				bad(k, "must be a mailbox's local part such as congthongtin")
			}
		case "province", "admin_password", "mail_password":
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
				if _, ok := contract.Lookup(name); !ok {
					bad(key, "unknown weakness (known: %s)", strings.Join(contract.Weaknesses(), ", "))
					continue
				}
				if _, ok := m[name].(bool); !ok {
					bad(key, "must be true or false")
				}
			}
		default:
			bad(k, "unknown option of the portal (known: %s)", strings.Join(optionKeys, ", "))
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

func isLocalPart(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
