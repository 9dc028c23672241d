package scenarios

import (
	"cmp"
	"fmt"
	"math"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Length limits for free text, in characters.
const (
	maxNameLen  = 64
	maxTitleLen = 200
)

// Validate checks every rule of FORMAT.md and returns all violations as
// Errors, or nil. Load already calls it; call it again after changing a
// scenario in code (WithAttackTeams, for one).
func (s *Scenario) Validate() error {
	if errs := s.validate(nil); len(errs) > 0 {
		return errs
	}
	return nil
}

type validator struct {
	s    *Scenario
	errs Errors
	// failed holds the fields that could not be decoded, and around them
	// all fields that contain one.
	failed, containsFailed map[string]bool
}

// validate runs every rule. Fields in failed could not be decoded; rules on
// them or on anything containing them stay quiet, since their zero value
// would only produce a second, misleading message.
func (s *Scenario) validate(failed map[string]bool) Errors {
	v := &validator{s: s, failed: failed, containsFailed: map[string]bool{}}
	for f := range failed {
		for p := parentPath(f); p != ""; p = parentPath(p) {
			v.containsFailed[p] = true
		}
	}
	v.top()
	v.network("network.docker", s.Network.Docker, false)
	v.network("network.local", s.Network.Local, true)
	v.teams()
	v.services()
	return sortErrors(v.errs)
}

// line finds where a field is, falling back to the nearest enclosing field
// the file does have: a defaulted services[0].weight points at services[0].
func (v *validator) line(path string) int {
	for path != "" {
		if l, ok := v.s.lines[path]; ok {
			return l
		}
		path = parentPath(path)
	}
	return 0
}

func parentPath(path string) string {
	if strings.HasSuffix(path, "]") {
		if i := strings.LastIndexByte(path, '['); i >= 0 {
			return path[:i]
		}
	}
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		return path[:i]
	}
	return ""
}

// quiet reports whether a failed decode at, above or below path makes a
// rule about path pointless.
func (v *validator) quiet(path string) bool {
	if v.containsFailed[path] {
		return true
	}
	for p := path; p != ""; p = parentPath(p) {
		if v.failed[p] {
			return true
		}
	}
	return false
}

func (v *validator) errorf(path, format string, args ...any) {
	if v.quiet(path) {
		return
	}
	v.errs = append(v.errs, &Error{File: v.s.source, Line: v.line(path), Field: path, Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) top() {
	s := v.s
	switch {
	case s.Name == "":
		v.errorf("name", "is required")
	case !isID(s.Name, 40, false):
		v.errorf("name", "must be 1 to 40 characters of a-z, 0-9 and '-', starting and ending with a letter or digit (got %q)", s.Name)
	}
	v.text("title", s.Title, maxTitleLen)
	if s.Locale != "vi" && s.Locale != "en" {
		v.errorf("locale", "must be vi or en (got %q)", s.Locale)
	}
	if s.Tick < time.Second {
		v.errorf("tick", "must be at least 1s (got %s)", formatDuration(s.Tick))
	}
	lifetimeOK := s.FlagLifetime >= 1 && s.FlagLifetime <= MaxFlagLifetime
	if !lifetimeOK {
		v.errorf("flag_lifetime", "must be between 1 and %d (got %d)", MaxFlagLifetime, s.FlagLifetime)
	}
	if lifetimeOK && (s.GetflagDepth < 1 || s.GetflagDepth > s.FlagLifetime) {
		v.errorf("getflag_depth", "must be between 1 and flag_lifetime (%d) (got %d)", s.FlagLifetime, s.GetflagDepth)
	}
	switch {
	case s.Duration < 0:
		v.errorf("duration", "must not be negative (got %s)", formatDuration(s.Duration))
	case s.Duration > 0 && s.Tick >= time.Second && s.Duration < s.Tick:
		v.errorf("duration", "must be 0 (no end) or at least one tick (%s), got %s", formatDuration(s.Tick), formatDuration(s.Duration))
	}
	switch {
	case s.FreezeAt < 0:
		v.errorf("freeze_at", "must not be negative (got %s)", formatDuration(s.FreezeAt))
	case s.Duration > 0 && s.FreezeAt >= s.Duration:
		v.errorf("freeze_at", "must be less than duration (%s), got %s", formatDuration(s.Duration), formatDuration(s.FreezeAt))
	}
	if p := s.FlagFormat.Prefix; len(p) > 8 || strings.TrimFunc(p, isUpperAlnum) != "" {
		v.errorf("flag_format.prefix", "must be at most 8 characters of A-Z and 0-9 (got %q)", p)
	}
	sc := s.Scoring
	v.nonNegative("scoring.first_blood", sc.FirstBlood)
	v.nonNegative("scoring.detection_true", sc.DetectionTrue)
	v.nonNegative("scoring.detection_timeliness", sc.DetectionTimeliness)
	v.nonNegative("scoring.detection_false", sc.DetectionFalse)
	v.nonNegative("scoring.detection_store", sc.DetectionStore)
	v.positive("submission.rate", s.Submission.Rate)
	if s.Submission.Burst < 1 {
		v.errorf("submission.burst", "must be at least 1 (got %d)", s.Submission.Burst)
	}
	if s.Submission.MaxLine != SubmissionMaxLine {
		v.errorf("submission.max_line", "must be %d: the submission protocol fixes the longest line (got %d)", SubmissionMaxLine, s.Submission.MaxLine)
	}
}

func (v *validator) nonNegative(path string, x float64) {
	switch {
	case math.IsNaN(x) || math.IsInf(x, 0):
		v.errorf(path, "must be a finite number")
	case x < 0:
		v.errorf(path, "must not be negative (got %s)", formatFloat(x))
	}
}

func (v *validator) positive(path string, x float64) {
	switch {
	case math.IsNaN(x) || math.IsInf(x, 0):
		v.errorf(path, "must be a finite number")
	case x <= 0:
		v.errorf(path, "must be greater than 0")
	}
}

// text checks free text meant for people: names and titles.
func (v *validator) text(path, s string, maxLen int) bool {
	switch {
	case !utf8.ValidString(s):
		v.errorf(path, "must be valid UTF-8")
	case utf8.RuneCountInString(s) > maxLen:
		v.errorf(path, "must be at most %d characters (got %d)", maxLen, utf8.RuneCountInString(s))
	case strings.TrimSpace(s) != s:
		v.errorf(path, "must not start or end with a space")
	default:
		for _, r := range s {
			if !unicode.IsPrint(r) {
				v.errorf(path, "must not contain control or invisible characters (found %U)", r)
				return false
			}
		}
		return true
	}
	return false
}

var loopback = netip.MustParsePrefix("127.0.0.0/8")

func (v *validator) network(path string, plan AddressPlan, local bool) {
	ranges := []struct {
		key string
		p   netip.Prefix
	}{{"teams", plan.Teams}, {"replicas", plan.Replicas}, {"checkers", plan.Checkers}}
	var good []int
	for i, r := range ranges {
		fp := path + "." + r.key
		p := r.p
		switch {
		case !p.IsValid():
			v.errorf(fp, "is required")
			continue
		case !p.Addr().Is4():
			v.errorf(fp, "must be an IPv4 range (got %s)", p)
			continue
		case p != p.Masked():
			v.errorf(fp, "%s has host bits set (did you mean %s?)", p, p.Masked())
			continue
		case local && (p.Bits() < 8 || !loopback.Contains(p.Addr())):
			v.errorf(fp, "must be inside 127.0.0.0/8: the local driver uses loopback addresses (got %s)", p)
			continue
		case !local && p.Overlaps(loopback):
			v.errorf(fp, "must not be a loopback range: Docker networks need routable addresses (got %s)", p)
			continue
		}
		switch r.key {
		case "checkers":
			if p.Bits() > 29 {
				v.errorf(fp, "must be /29 or larger (got %s)", p)
				continue
			}
		default:
			if p.Bits() > 24 {
				v.errorf(fp, "must be /24 or larger: every team gets a /24 of it (got %s)", p)
				continue
			}
			need, what := len(v.s.Teams), "teams"
			if r.key == "replicas" {
				need, what = len(v.s.DefenceTeams()), "defending teams"
			}
			if have := subnetCapacity(p); need > have {
				v.errorf(fp, "%s has room for %d %s, the scenario has %d", p, have, what, need)
			}
		}
		good = append(good, i)
	}
	for a := 0; a < len(good); a++ {
		for b := a + 1; b < len(good); b++ {
			ra, rb := ranges[good[a]], ranges[good[b]]
			if ra.p.Overlaps(rb.p) {
				v.errorf(path+"."+rb.key, "%s overlaps %s.%s (%s)", rb.p, path, ra.key, ra.p)
			}
		}
	}
	// A plan built in code may leave the gateways out: the range then
	// uses the default (see DefaultNetwork).
	gw := plan.Gateways
	switch {
	case !gw.IsValid():
	case gw.Addr().Zone() != "" || gw.Addr().IsMulticast():
		v.errorf(path+".gateways", "must be an address of this host to listen on (got %s)", gw.Addr())
	case gw.Port() != 0 && int(gw.Port())+len(v.s.Teams) > 65535:
		v.errorf(path+".gateways", "port %d leaves no port for team %d (team i listens on port %d+i)",
			gw.Port(), len(v.s.Teams), gw.Port())
	}
}

func (v *validator) teams() {
	s := v.s
	if len(s.Teams) == 0 {
		v.errorf("teams", "needs at least one team that attacks and one that defends")
		return
	}
	if len(s.Teams) > MaxTeams {
		v.errorf("teams", "must have at most %d teams (got %d)", MaxTeams, len(s.Teams))
	}
	names := map[string]int{}
	folded := map[string]int{}
	shorts := map[string]int{}
	attackers, defenders := 0, 0
	for i, t := range s.Teams {
		p := indexPath("teams", i)
		v.teamName(p+".name", t.Name, i, names, folded)
		switch t.Role {
		case RoleAttack, RoleDefence, RoleBoth:
		case "":
			v.errorf(p+".role", "is required: attack, defence or both")
		default:
			v.errorf(p+".role", "must be attack, defence or both (got %q)", t.Role)
		}
		if t.Role.CanAttack() {
			attackers++
		}
		if t.Role.CanDefend() {
			defenders++
		}
		switch first, dup := shorts[t.Short]; {
		case !isID(t.Short, 8, false):
			v.errorf(p+".short", "must be 1 to 8 characters of a-z, 0-9 and '-', starting and ending with a letter or digit (got %q)", t.Short)
		case dup:
			v.errorf(p+".short", "%q is already used by teams[%d]", t.Short, first)
		default:
			shorts[t.Short] = i
		}
	}
	switch {
	case attackers == 0:
		v.errorf("teams", "needs at least one team with role attack or both")
	case defenders == 0:
		v.errorf("teams", "needs at least one team with role defence or both")
	case attackers == 1 && defenders == 1 && len(s.Teams) == 1:
		v.errorf("teams", "a single team with role both has no one else's replica to attack")
	}
}

func (v *validator) teamName(path, name string, i int, names, folded map[string]int) {
	if name == "" {
		v.errorf(path, "is required")
		return
	}
	if !v.text(path, name, maxNameLen) {
		return
	}
	if _, err := netip.ParseAddr(name); err == nil {
		v.errorf(path, "must not be an IP address: detection reports name an attacker by team name or by address")
		return
	}
	if first, dup := names[name]; dup {
		v.errorf(path, "%q is already used by teams[%d]", name, first)
		return
	}
	key := strings.ToLower(name)
	if first, dup := folded[key]; dup {
		v.errorf(path, "%q differs from teams[%d] only in letter case", name, first)
		return
	}
	names[name], folded[key] = i, i
}

func (v *validator) services() {
	s := v.s
	if len(s.Services) == 0 {
		v.errorf("services", "needs at least one service")
		return
	}
	if len(s.Services) > MaxServices {
		v.errorf("services", "must have at most %d services (got %d)", MaxServices, len(s.Services))
	}
	names := map[string]int{}
	for i, svc := range s.Services {
		p := indexPath("services", i)
		switch first, dup := names[svc.Name]; {
		case svc.Name == "":
			v.errorf(p+".name", "is required")
		case !isID(svc.Name, 32, false):
			v.errorf(p+".name", "must be 1 to 32 characters of a-z, 0-9 and '-', starting and ending with a letter or digit (got %q)", svc.Name)
		case dup:
			v.errorf(p+".name", "%q is already used by services[%d]", svc.Name, first)
		default:
			names[svc.Name] = i
		}
		v.text(p+".title", svc.Title, maxTitleLen)
		switch {
		case svc.Image == "" && isID(svc.Name, 32, false):
			v.errorf(p+".image", "is required")
		case svc.Image == "":
			// Left empty because the name could not stand in for it;
			// the name's error says what to fix.
		case !isImage(svc.Image):
			v.errorf(p+".image", "must be a built-in target's name or an image reference such as registry.example/app:1.2 (got %q)", svc.Image)
		case s.AttackBox && !IsBuiltinImage(svc.Image):
			// The box reaches targets without a gateway: only a target's
			// own flow records can see that, and only built-in targets
			// make them. Unseen, a box's attacks would make no incident.
			v.errorf(p+".image", "must be a built-in target when attack_box is true: only built-in targets record the connections that reach them, and traffic from an attack box passes no gateway (got %q)", svc.Image)
		}
		switch {
		case svc.Checker == "" && isImage(svc.Image):
			v.errorf(p+".checker", "is required: image %q is not the name of a built-in checker, so give builtin:NAME or the http(s) URL of an enochecker v2 checker", svc.Image)
		case svc.Checker == "":
		case !isChecker(svc.Checker):
			v.errorf(p+".checker", "must be builtin:NAME or the http(s) URL of an enochecker v2 checker (got %q)", svc.Checker)
		}
		v.positive(p+".weight", svc.Weight)
		v.flagStores(p+".flag_stores", svc.FlagStores)
		v.ports(p+".ports", svc.Ports)
	}
}

func (v *validator) flagStores(path string, stores []string) {
	if len(stores) == 0 {
		v.errorf(path, "needs at least one flag store")
		return
	}
	if len(stores) > MaxFlagStores {
		v.errorf(path, "must have at most %d flag stores (got %d)", MaxFlagStores, len(stores))
	}
	seen := map[string]int{}
	for i, name := range stores {
		p := indexPath(path, i)
		switch first, dup := seen[name]; {
		case !isID(name, 32, true):
			v.errorf(p, "must be 1 to 32 characters of a-z, 0-9, '-' and '_', starting and ending with a letter or digit (got %q)", name)
		case dup:
			v.errorf(p, "%q is already listed as %s", name, indexPath(path, first))
		default:
			seen[name] = i
		}
	}
}

func (v *validator) ports(path string, ports []Port) {
	if len(ports) > MaxPorts {
		v.errorf(path, "must have at most %d ports (got %d)", MaxPorts, len(ports))
	}
	names := map[string]bool{}
	numbers := map[int]string{}
	for _, port := range ports {
		p := joinPath(path, port.Name)
		if !isID(port.Name, 15, false) {
			v.errorf(p, "port name must be 1 to 15 characters of a-z, 0-9 and '-', starting and ending with a letter or digit")
			continue
		}
		if names[port.Name] {
			v.errorf(p, "is listed twice")
			continue
		}
		names[port.Name] = true
		if port.Number < 1 || port.Number > 65535 {
			v.errorf(p, "must be between 1 and 65535 (got %d)", port.Number)
			continue
		}
		if other, dup := numbers[port.Number]; dup {
			v.errorf(p, "port %d is already named %s", port.Number, other)
			continue
		}
		numbers[port.Number] = port.Name
	}
}

// isID checks the ids used in labels, hostnames and file names: lower-case
// letters, digits and '-' (and '_' if underscore), not starting or ending
// with a separator.
func isID(s string, maxLen int, underscore bool) bool {
	if s == "" || len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-' || (underscore && c == '_'):
			if i == 0 || i == len(s)-1 {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func isUpperAlnum(r rune) bool {
	return (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9')
}

// isImage accepts the characters of a container image reference
// (registry/name:tag@digest); the engine itself has the last word.
func isImage(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
		if i == 0 && !alnum {
			return false
		}
		if !alnum && !strings.ContainsRune("._/:@-", rune(c)) {
			return false
		}
	}
	return true
}

func isChecker(s string) bool {
	if name, ok := strings.CutPrefix(s, "builtin:"); ok {
		return isID(name, 32, false)
	}
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.Fragment == ""
}

// maxErrors is how many problems one load reports; past that, the rest are
// most likely the same mistake repeated.
const maxErrors = 100

// sortErrors orders problems by line so they read top to bottom, drops
// exact repeats (a merged anchor can report the same problem twice) and
// keeps the list to a readable length.
func sortErrors(errs Errors) Errors {
	seen := map[Error]bool{}
	out := errs[:0]
	for _, e := range errs {
		if !seen[*e] {
			seen[*e] = true
			out = append(out, e)
		}
	}
	slices.SortStableFunc(out, func(a, b *Error) int { return cmp.Compare(a.Line, b.Line) })
	if len(out) > maxErrors {
		rest := len(out) - maxErrors
		out = append(out[:maxErrors:maxErrors], &Error{File: out[0].File, Msg: fmt.Sprintf("%d more problems not shown", rest)})
	}
	return out
}
