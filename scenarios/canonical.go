package scenarios

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Canonical renders the scenario in one fixed form: every setting present
// with its effective value, keys in the order of FORMAT.md, durations in
// their shortest spelling, option keys sorted, no comments. Two files that
// mean the same exercise have the same canonical form, and loading the
// canonical form gives the scenario back.
func (s *Scenario) Canonical() []byte {
	root := mapping(
		"name", str(s.Name),
		"title", str(s.Title),
		"locale", str(s.Locale),
		"tick", str(formatDuration(s.Tick)),
		"flag_lifetime", num(strconv.Itoa(s.FlagLifetime)),
		"getflag_depth", num(strconv.Itoa(s.GetflagDepth)),
		"duration", str(formatDuration(s.Duration)),
		"freeze_at", str(formatDuration(s.FreezeAt)),
		"require_telemetry", boolean(s.RequireTelemetry),
		"attack_box", boolean(s.AttackBox),
		"defence_box", boolean(s.DefenceBox),
		"flag_format", mapping("prefix", str(s.FlagFormat.Prefix)),
		"scoring", mapping(
			"first_blood", num(formatFloat(s.Scoring.FirstBlood)),
			"detection_true", num(formatFloat(s.Scoring.DetectionTrue)),
			"detection_timeliness", num(formatFloat(s.Scoring.DetectionTimeliness)),
			"detection_false", num(formatFloat(s.Scoring.DetectionFalse)),
			"detection_store", num(formatFloat(s.Scoring.DetectionStore)),
		),
		"submission", mapping(
			"rate", num(formatFloat(s.Submission.Rate)),
			"burst", num(strconv.Itoa(s.Submission.Burst)),
			"max_line", num(strconv.Itoa(s.Submission.MaxLine)),
		),
		"network", mapping(
			"docker", addressPlanNode(s.Network.Docker),
			"local", addressPlanNode(s.Network.Local),
		),
	)
	teams := &yaml.Node{Kind: yaml.SequenceNode}
	for _, t := range s.Teams {
		teams.Content = append(teams.Content, mapping("name", str(t.Name), "role", str(string(t.Role)), "short", str(t.Short)))
	}
	services := &yaml.Node{Kind: yaml.SequenceNode}
	for _, svc := range s.Services {
		services.Content = append(services.Content, serviceNode(svc))
	}
	root.Content = append(root.Content, str("teams"), teams, str("services"), services)

	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	// The tree holds only well-formed scalars, sequences and mappings, which
	// the encoder always accepts.
	if err := enc.Encode(root); err != nil {
		panic(fmt.Sprintf("scenarios: encoding canonical form: %v", err))
	}
	if err := enc.Close(); err != nil {
		panic(fmt.Sprintf("scenarios: encoding canonical form: %v", err))
	}
	return buf.Bytes()
}

// Hash identifies the scenario's content: the hex SHA-256 of its canonical
// form. It changes whenever any effective setting changes and never
// otherwise, so an event log can record which scenario it was played with.
func (s *Scenario) Hash() string {
	sum := sha256.Sum256(s.Canonical())
	return hex.EncodeToString(sum[:])
}

func serviceNode(svc Service) *yaml.Node {
	n := mapping(
		"name", str(svc.Name),
		"title", str(svc.Title),
		"image", str(svc.Image),
		"checker", str(svc.Checker),
		"weight", num(formatFloat(svc.Weight)),
	)
	stores := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
	for _, st := range svc.FlagStores {
		stores.Content = append(stores.Content, str(st))
	}
	n.Content = append(n.Content, str("flag_stores"), stores)
	if len(svc.Ports) > 0 {
		ports := &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle}
		for _, p := range svc.Ports {
			ports.Content = append(ports.Content, str(p.Name), num(strconv.Itoa(p.Number)))
		}
		n.Content = append(n.Content, str("ports"), ports)
	}
	if len(svc.Options) > 0 {
		n.Content = append(n.Content, str("options"), valueNode(svc.Options, 0))
	}
	return n
}

func addressPlanNode(p AddressPlan) *yaml.Node {
	n := mapping("teams", prefixNode(p.Teams), "replicas", prefixNode(p.Replicas), "checkers", prefixNode(p.Checkers))
	if p.Gateways.IsValid() {
		n.Content = append(n.Content, str("gateways"), str(p.Gateways.String()))
	}
	return n
}

func prefixNode(p netip.Prefix) *yaml.Node {
	if !p.IsValid() {
		return str("")
	}
	return str(p.String())
}

func mapping(kv ...any) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode}
	for i := 0; i+1 < len(kv); i += 2 {
		n.Content = append(n.Content, str(kv[i].(string)), kv[i+1].(*yaml.Node))
	}
	return n
}

// str is a text scalar; the encoder quotes it whenever it would otherwise
// read back as something else ("123", "yes", "").
func str(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: strings.ToValidUTF8(s, "\uFFFD")}
}

// num is a scalar written as is and left for the reader to resolve.
func num(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Value: s}
}

func boolean(b bool) *yaml.Node {
	return num(strconv.FormatBool(b))
}

// valueNode renders option values. Anything other than what YAML decoding
// produces (possible only for options set in code) is written as text.
func valueNode(v any, depth int) *yaml.Node {
	if depth > maxOptionsDepth {
		return num("null")
	}
	switch v := v.(type) {
	case nil:
		return num("null")
	case string:
		return str(v)
	case bool:
		return boolean(v)
	case int:
		return num(strconv.Itoa(v))
	case int64:
		return num(strconv.FormatInt(v, 10))
	case int32:
		return num(strconv.FormatInt(int64(v), 10))
	case uint64:
		return num(strconv.FormatUint(v, 10))
	case uint:
		return num(strconv.FormatUint(uint64(v), 10))
	case float64:
		return num(formatFloat(v))
	case float32:
		return num(formatFloat(float64(v)))
	case Options:
		return optionsNode(v, depth)
	case map[string]any:
		return optionsNode(v, depth)
	case []any:
		n := &yaml.Node{Kind: yaml.SequenceNode}
		for _, x := range v {
			n.Content = append(n.Content, valueNode(x, depth+1))
		}
		return n
	default:
		return str(fmt.Sprint(v))
	}
}

func optionsNode(m map[string]any, depth int) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		n.Content = append(n.Content, str(k), valueNode(m[k], depth+1))
	}
	return n
}

// formatDuration writes a duration the way people do: 2h, 1h45m, 15s.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// formatFloat writes a number in its shortest exact YAML spelling.
func formatFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return ".nan"
	case math.IsInf(f, 1):
		return ".inf"
	case math.IsInf(f, -1):
		return "-.inf"
	case f == 0:
		// -0 reads back as the integer 0.
		return "0"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}
