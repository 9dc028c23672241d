package scenarios

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// nodeBudget caps how many YAML nodes one file may make the decoder visit.
// Aliases and merge keys let a small file expand into a huge tree; a real
// scenario visits a few thousand nodes at most.
const nodeBudget = 1_000_000

// maxOptionsDepth caps how deeply options may nest.
const maxOptionsDepth = 32

// decoder walks the YAML node tree by hand rather than with yaml.Unmarshal,
// so that every problem, including unknown keys and wrong types, is reported
// with its line and field, and so that all of them are reported, not only
// the first.
type decoder struct {
	file string
	errs Errors
	// failed holds the field paths that could not be decoded, so that
	// validation does not pile a second, misleading error on top.
	failed map[string]bool
	// lines holds the line of every field present in the file.
	lines     map[string]int
	budget    int
	exhausted bool
	unknown   int
}

// maxSuggestions bounds how many unknown keys get a "did you mean".
const maxSuggestions = 100

func newDecoder(file string) *decoder {
	return &decoder{file: file, failed: map[string]bool{}, lines: map[string]int{}, budget: nodeBudget}
}

// errorf records a value that could not be decoded; the field keeps its
// zero value, which validation must then not complain about.
func (d *decoder) errorf(line int, field, format string, args ...any) {
	d.report(line, field, format, args...)
	d.failed[field] = true
}

// report records a problem that leaves nothing half-decoded, such as an
// unknown or repeated key.
func (d *decoder) report(line int, field, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// spend charges one node visit against the budget and reports whether the
// walk may go on.
func (d *decoder) spend(n *yaml.Node, path string) bool {
	if d.exhausted {
		return false
	}
	d.budget--
	if d.budget < 0 {
		d.exhausted = true
		d.errorf(n.Line, path, "too complex: aliases and merge keys expand to more than %d nodes", nodeBudget)
		return false
	}
	return true
}

// parse reads the single YAML document in data and returns its root node,
// or nil after recording why there is none.
func (d *decoder) parse(data []byte) (root *yaml.Node) {
	if len(data) > MaxFileSize {
		d.errorf(0, "", "file is larger than %d bytes", MaxFileSize)
		return nil
	}
	defer func() {
		// The YAML library reports its own errors as values; anything it
		// panics with is a defect in it, and a scenario file must never be
		// able to bring the program down.
		if r := recover(); r != nil {
			root = nil
			d.errorf(0, "", "cannot parse YAML: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.errorf(0, "", "file is empty")
		} else {
			d.yamlError(err)
		}
		return nil
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		d.errorf(extra.Line, "", "only one YAML document is allowed per file")
		return nil
	case !errors.Is(err, io.EOF):
		d.yamlError(err)
		return nil
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		d.errorf(0, "", "file is empty")
		return nil
	}
	root = resolve(doc.Content[0])
	if isNull(root) {
		d.errorf(0, "", "file is empty")
		return nil
	}
	if root.Kind != yaml.MappingNode {
		d.errorf(root.Line, "", "must be a mapping of settings (name: ..., teams: ..., services: ...)")
		return nil
	}
	return root
}

// yamlError turns the library's "yaml: line N: message" into an Error with
// that line.
func (d *decoder) yamlError(err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, tail, ok := strings.Cut(rest, ": "); ok {
			if n, convErr := strconv.Atoi(num); convErr == nil {
				line, msg = n, tail
			}
		}
	}
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Msg: "invalid YAML: " + msg})
}

func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func indexPath(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

// pair is one key and value of a mapping, merge keys already expanded.
type pair struct {
	name     string
	key, val *yaml.Node
}

// pairs lists a mapping's entries in file order, reporting duplicate and
// non-text keys, and expanding YAML merge keys (<<: *anchor) with the
// entries written in the mapping itself taking precedence.
func (d *decoder) pairs(n *yaml.Node, path string) []pair {
	var out []pair
	var merges []*yaml.Node
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), n.Content[i+1]
		if k == nil || !d.spend(k, path) {
			return out
		}
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			merges = append(merges, v)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.report(k.Line, path, "keys must be plain text")
			continue
		}
		field := joinPath(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			d.report(k.Line, field, "duplicate key (first at line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		out = append(out, pair{name: k.Value, key: k, val: v})
	}
	for _, m := range merges {
		m = resolve(m)
		var sources []*yaml.Node
		switch {
		case m == nil:
		case m.Kind == yaml.MappingNode:
			sources = []*yaml.Node{m}
		case m.Kind == yaml.SequenceNode:
			for _, item := range m.Content {
				sources = append(sources, resolve(item))
			}
		}
		if len(sources) == 0 {
			line := 0
			if m != nil {
				line = m.Line
			}
			d.errorf(line, joinPath(path, "<<"), "merge key needs a mapping or a list of mappings")
			continue
		}
		for _, src := range sources {
			if src == nil || src.Kind != yaml.MappingNode {
				d.errorf(m.Line, joinPath(path, "<<"), "merge key needs a mapping or a list of mappings")
				continue
			}
			for _, p := range d.pairs(src, path) {
				if _, dup := seen[p.name]; !dup {
					seen[p.name] = p.key.Line
					out = append(out, p)
				}
			}
		}
	}
	return out
}

// field decodes the value of one known key; n is never null or an alias.
type field func(n *yaml.Node, path string)

// object decodes a mapping whose keys are the known fields. A null value
// counts as absent, so the default applies.
func (d *decoder) object(n *yaml.Node, path string, fields map[string]field) {
	n = resolve(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n.Line, path, "must be a mapping")
		return
	}
	for _, p := range d.pairs(n, path) {
		fp := joinPath(path, p.name)
		fn, ok := fields[p.name]
		if !ok {
			hint := ""
			// Suggestions cost an edit distance per known key; a file made of
			// nothing but unknown keys gets them for the first few only.
			if d.unknown < maxSuggestions {
				hint = suggest(p.name, fields)
			}
			d.unknown++
			d.report(p.key.Line, fp, "unknown field%s", hint)
			continue
		}
		v := resolve(p.val)
		if isNull(v) {
			continue
		}
		d.lines[fp] = p.key.Line
		fn(v, fp)
	}
}

// suggest names the known field closest to a misspelt one.
func suggest(name string, fields map[string]field) string {
	if utf8.RuneCountInString(name) > 64 {
		return ""
	}
	best, bestDist := "", 3
	for known := range fields {
		if dist := editDistance(name, known); dist < bestDist || (dist == bestDist && known < best) {
			best, bestDist = known, dist
		}
	}
	if best == "" || bestDist >= len(name) {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s?)", best)
}

func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

func (d *decoder) list(n *yaml.Node, path string, item func(n *yaml.Node, path string)) {
	if n.Kind != yaml.SequenceNode {
		d.errorf(n.Line, path, "must be a list")
		return
	}
	for i, it := range n.Content {
		if !d.spend(it, path) {
			return
		}
		ip := indexPath(path, i)
		if it = resolve(it); it == nil {
			continue
		}
		d.lines[ip] = it.Line
		item(it, ip)
	}
}

func (d *decoder) str(n *yaml.Node, path string, dst *string) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n.Line, path, "must be text")
		return
	}
	*dst = n.Value
}

func (d *decoder) integer(n *yaml.Node, path string, dst *int) {
	var v int
	if n.Kind != yaml.ScalarNode || n.Tag != "!!int" || n.Decode(&v) != nil {
		d.errorf(n.Line, path, "must be a whole number")
		return
	}
	*dst = v
}

func (d *decoder) number(n *yaml.Node, path string, dst *float64) {
	var v float64
	if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") || n.Decode(&v) != nil {
		d.errorf(n.Line, path, "must be a number")
		return
	}
	*dst = v
}

func (d *decoder) boolean(n *yaml.Node, path string, dst *bool) {
	var v bool
	if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" || n.Decode(&v) != nil {
		d.errorf(n.Line, path, "must be true or false")
		return
	}
	*dst = v
}

func (d *decoder) duration(n *yaml.Node, path string, dst *time.Duration) {
	if n.Kind == yaml.ScalarNode && (n.Tag == "!!str" || n.Tag == "!!int") {
		if v, err := time.ParseDuration(n.Value); err == nil {
			*dst = v
			return
		}
	}
	got := ""
	if n.Kind == yaml.ScalarNode {
		got = fmt.Sprintf(" (got %q)", n.Value)
	}
	d.errorf(n.Line, path, "must be a duration with a unit, such as 15s, 1m30s or 2h%s", got)
}

func (d *decoder) prefix(n *yaml.Node, path string, dst *netip.Prefix) {
	if n.Kind == yaml.ScalarNode {
		if p, err := netip.ParsePrefix(n.Value); err == nil {
			*dst = p
			return
		}
		d.errorf(n.Line, path, "must be an address range in CIDR form, such as 10.60.0.0/16 (got %q)", n.Value)
		return
	}
	d.errorf(n.Line, path, "must be an address range in CIDR form, such as 10.60.0.0/16")
}

func (d *decoder) scenario(root *yaml.Node, s *Scenario) {
	d.object(root, "", map[string]field{
		"name":              func(n *yaml.Node, p string) { d.str(n, p, &s.Name) },
		"title":             func(n *yaml.Node, p string) { d.str(n, p, &s.Title) },
		"locale":            func(n *yaml.Node, p string) { d.str(n, p, &s.Locale) },
		"tick":              func(n *yaml.Node, p string) { d.duration(n, p, &s.Tick) },
		"flag_lifetime":     func(n *yaml.Node, p string) { d.integer(n, p, &s.FlagLifetime) },
		"getflag_depth":     func(n *yaml.Node, p string) { d.integer(n, p, &s.GetflagDepth) },
		"duration":          func(n *yaml.Node, p string) { d.duration(n, p, &s.Duration) },
		"freeze_at":         func(n *yaml.Node, p string) { d.duration(n, p, &s.FreezeAt) },
		"require_telemetry": func(n *yaml.Node, p string) { d.boolean(n, p, &s.RequireTelemetry) },
		"attack_box":        func(n *yaml.Node, p string) { d.boolean(n, p, &s.AttackBox) },
		"defence_box":       func(n *yaml.Node, p string) { d.boolean(n, p, &s.DefenceBox) },
		"flag_format": func(n *yaml.Node, p string) {
			d.object(n, p, map[string]field{
				"prefix": func(n *yaml.Node, p string) { d.str(n, p, &s.FlagFormat.Prefix) },
			})
		},
		"scoring": func(n *yaml.Node, p string) {
			sc := &s.Scoring
			d.object(n, p, map[string]field{
				"first_blood":          func(n *yaml.Node, p string) { d.number(n, p, &sc.FirstBlood) },
				"detection_true":       func(n *yaml.Node, p string) { d.number(n, p, &sc.DetectionTrue) },
				"detection_timeliness": func(n *yaml.Node, p string) { d.number(n, p, &sc.DetectionTimeliness) },
				"detection_false":      func(n *yaml.Node, p string) { d.number(n, p, &sc.DetectionFalse) },
				"detection_store":      func(n *yaml.Node, p string) { d.number(n, p, &sc.DetectionStore) },
			})
		},
		"submission": func(n *yaml.Node, p string) {
			sub := &s.Submission
			d.object(n, p, map[string]field{
				"rate":     func(n *yaml.Node, p string) { d.number(n, p, &sub.Rate) },
				"burst":    func(n *yaml.Node, p string) { d.integer(n, p, &sub.Burst) },
				"max_line": func(n *yaml.Node, p string) { d.integer(n, p, &sub.MaxLine) },
			})
		},
		"network": func(n *yaml.Node, p string) {
			d.object(n, p, map[string]field{
				"docker": func(n *yaml.Node, p string) { d.addressPlan(n, p, &s.Network.Docker) },
				"local":  func(n *yaml.Node, p string) { d.addressPlan(n, p, &s.Network.Local) },
			})
		},
		"teams": func(n *yaml.Node, p string) {
			d.list(n, p, func(n *yaml.Node, p string) {
				s.Teams = append(s.Teams, d.team(n, p))
			})
		},
		"services": func(n *yaml.Node, p string) {
			d.list(n, p, func(n *yaml.Node, p string) {
				s.Services = append(s.Services, d.service(n, p))
			})
		},
	})
}

func (d *decoder) addressPlan(n *yaml.Node, path string, plan *AddressPlan) {
	d.object(n, path, map[string]field{
		"teams":    func(n *yaml.Node, p string) { d.prefix(n, p, &plan.Teams) },
		"replicas": func(n *yaml.Node, p string) { d.prefix(n, p, &plan.Replicas) },
		"checkers": func(n *yaml.Node, p string) { d.prefix(n, p, &plan.Checkers) },
		"gateways": func(n *yaml.Node, p string) { d.addrPort(n, p, &plan.Gateways) },
	})
}

func (d *decoder) addrPort(n *yaml.Node, path string, dst *netip.AddrPort) {
	if n.Kind == yaml.ScalarNode {
		if ap, err := netip.ParseAddrPort(n.Value); err == nil {
			*dst = ap
			return
		}
		d.errorf(n.Line, path, "must be an address and a port, such as 127.0.0.1:1080 (got %q)", n.Value)
		return
	}
	d.errorf(n.Line, path, "must be an address and a port, such as 127.0.0.1:1080")
}

// team decodes one list item; a broken item still yields a Team so that the
// indices of the items after it match the file.
func (d *decoder) team(n *yaml.Node, path string) Team {
	var t Team
	var role string
	if isNull(n) {
		d.errorf(n.Line, path, "must be a mapping")
		return t
	}
	d.object(n, path, map[string]field{
		"name":  func(n *yaml.Node, p string) { d.str(n, p, &t.Name) },
		"role":  func(n *yaml.Node, p string) { d.str(n, p, &role) },
		"short": func(n *yaml.Node, p string) { d.str(n, p, &t.Short) },
	})
	if role == "defense" {
		role = string(RoleDefence)
	}
	t.Role = Role(role)
	return t
}

func (d *decoder) service(n *yaml.Node, path string) Service {
	var s Service
	if isNull(n) {
		d.errorf(n.Line, path, "must be a mapping")
		return s
	}
	d.object(n, path, map[string]field{
		"name":    func(n *yaml.Node, p string) { d.str(n, p, &s.Name) },
		"title":   func(n *yaml.Node, p string) { d.str(n, p, &s.Title) },
		"image":   func(n *yaml.Node, p string) { d.str(n, p, &s.Image) },
		"checker": func(n *yaml.Node, p string) { d.str(n, p, &s.Checker) },
		"weight":  func(n *yaml.Node, p string) { d.number(n, p, &s.Weight) },
		"flag_stores": func(n *yaml.Node, p string) {
			d.list(n, p, func(n *yaml.Node, p string) {
				var name string
				d.str(n, p, &name)
				s.FlagStores = append(s.FlagStores, name)
			})
		},
		"ports": func(n *yaml.Node, p string) {
			if n.Kind != yaml.MappingNode {
				d.errorf(n.Line, p, "must be a mapping of port names to numbers, such as {smtp: 25, http: 80}")
				return
			}
			for _, kv := range d.pairs(n, p) {
				pp := joinPath(p, kv.name)
				d.lines[pp] = kv.key.Line
				port := Port{Name: kv.name}
				v := resolve(kv.val)
				if isNull(v) {
					d.errorf(kv.key.Line, pp, "needs a port number")
				} else {
					d.integer(v, pp, &port.Number)
				}
				s.Ports = append(s.Ports, port)
			}
		},
		"options": func(n *yaml.Node, p string) {
			if n.Kind != yaml.MappingNode {
				d.errorf(n.Line, p, "must be a mapping")
				return
			}
			s.Options, _ = d.anyValue(n, p, 0).(Options)
		},
	})
	return s
}

// anyValue converts free-form YAML into the plain values Options documents.
func (d *decoder) anyValue(n *yaml.Node, path string, depth int) any {
	n = resolve(n)
	if n == nil || !d.spend(n, path) {
		return nil
	}
	if depth > maxOptionsDepth {
		d.errorf(n.Line, path, "nested more than %d levels deep", maxOptionsDepth)
		return nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		out := Options{}
		for _, p := range d.pairs(n, path) {
			// Options are checked by their target after loading: their
			// lines let its complaints name the line.
			d.lines[joinPath(path, p.name)] = p.key.Line
			out[p.name] = d.anyValue(p.val, joinPath(path, p.name), depth+1)
		}
		return out
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for i, it := range n.Content {
			out = append(out, d.anyValue(it, indexPath(path, i), depth+1))
		}
		return out
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return nil
		case "!!str", "!!timestamp":
			// Timestamps stay text: targets get the date as written.
			return n.Value
		case "!!bool", "!!int", "!!float":
			var v any
			if err := n.Decode(&v); err != nil {
				d.errorf(n.Line, path, "cannot read %q: %v", n.Value, err)
				return nil
			}
			return v
		}
		d.errorf(n.Line, path, "unsupported tag %s: use plain text, numbers, booleans, lists and mappings", n.Tag)
		return nil
	}
	d.errorf(n.Line, path, "unsupported YAML node")
	return nil
}
