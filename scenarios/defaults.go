package scenarios

import (
	"fmt"
	"net/netip"
	"time"
)

// Defaults for settings a file leaves out. FORMAT.md lists the same values;
// TestFormatDocumentsDefaults keeps the two in step.
const (
	DefaultLocale       = "vi"
	DefaultTick         = 60 * time.Second
	DefaultFlagLifetime = 5
	// DefaultGetflagDepth is used when flag_lifetime allows it; a shorter
	// lifetime caps the depth.
	DefaultGetflagDepth = 3

	DefaultFirstBlood          = 10
	DefaultDetectionTrue       = 5
	DefaultDetectionTimeliness = 5
	DefaultDetectionFalse      = 2.5
	DefaultDetectionStore      = 2

	DefaultSubmissionRate  = 100
	DefaultSubmissionBurst = 2000

	DefaultWeight = 1
)

// DefaultNetwork is the address plan used when a file has no network
// section: 10.60-62.x for Docker bridges, 127.60-62.x on loopback for the
// local driver.
func DefaultNetwork() Network {
	return Network{
		Docker: AddressPlan{
			Teams:    netip.MustParsePrefix("10.60.0.0/16"),
			Replicas: netip.MustParsePrefix("10.61.0.0/16"),
			Checkers: netip.MustParsePrefix("10.62.0.0/24"),
			Gateways: netip.MustParseAddrPort("127.0.0.1:1080"),
		},
		Local: AddressPlan{
			Teams:    netip.MustParsePrefix("127.60.0.0/16"),
			Replicas: netip.MustParsePrefix("127.61.0.0/16"),
			Checkers: netip.MustParsePrefix("127.62.0.0/24"),
			Gateways: netip.MustParseAddrPort("127.0.0.1:1080"),
		},
	}
}

// applyDefaults fills in what the file left out. Numbers are defaulted only
// when their key is absent, so that an explicit "weight: 0" is reported as
// an error rather than silently replaced; text is defaulted when empty.
func (s *Scenario) applyDefaults(set func(path string) bool) {
	if s.Title == "" {
		s.Title = s.Name
	}
	if s.Locale == "" {
		s.Locale = DefaultLocale
	}
	if !set("tick") {
		s.Tick = DefaultTick
	}
	if !set("flag_lifetime") {
		s.FlagLifetime = DefaultFlagLifetime
	}
	if !set("getflag_depth") {
		s.GetflagDepth = max(1, min(DefaultGetflagDepth, s.FlagLifetime))
	}
	defaultFloat(set, "scoring.first_blood", &s.Scoring.FirstBlood, DefaultFirstBlood)
	defaultFloat(set, "scoring.detection_true", &s.Scoring.DetectionTrue, DefaultDetectionTrue)
	defaultFloat(set, "scoring.detection_timeliness", &s.Scoring.DetectionTimeliness, DefaultDetectionTimeliness)
	defaultFloat(set, "scoring.detection_false", &s.Scoring.DetectionFalse, DefaultDetectionFalse)
	defaultFloat(set, "scoring.detection_store", &s.Scoring.DetectionStore, DefaultDetectionStore)
	defaultFloat(set, "submission.rate", &s.Submission.Rate, DefaultSubmissionRate)
	if !set("submission.burst") {
		s.Submission.Burst = DefaultSubmissionBurst
	}
	if !set("submission.max_line") {
		s.Submission.MaxLine = SubmissionMaxLine
	}
	def := DefaultNetwork()
	defaultPrefix(set, "network.docker.teams", &s.Network.Docker.Teams, def.Docker.Teams)
	defaultPrefix(set, "network.docker.replicas", &s.Network.Docker.Replicas, def.Docker.Replicas)
	defaultPrefix(set, "network.docker.checkers", &s.Network.Docker.Checkers, def.Docker.Checkers)
	defaultPrefix(set, "network.local.teams", &s.Network.Local.Teams, def.Local.Teams)
	defaultPrefix(set, "network.local.replicas", &s.Network.Local.Replicas, def.Local.Replicas)
	defaultPrefix(set, "network.local.checkers", &s.Network.Local.Checkers, def.Local.Checkers)
	if !set("network.docker.gateways") {
		s.Network.Docker.Gateways = def.Docker.Gateways
	}
	if !set("network.local.gateways") {
		s.Network.Local.Gateways = def.Local.Gateways
	}

	s.defaultShorts()
	for i := range s.Services {
		svc := &s.Services[i]
		if svc.Title == "" {
			svc.Title = svc.Name
		}
		// Image and checker are derived only from values that make sense
		// as such; otherwise they stay empty and the error is reported on
		// the field the author wrote.
		if svc.Image == "" && isID(svc.Name, 32, false) {
			svc.Image = svc.Name
		}
		if svc.Checker == "" && isID(svc.Image, 32, false) {
			svc.Checker = "builtin:" + svc.Image
		}
		if !set(indexPath("services", i) + ".weight") {
			svc.Weight = DefaultWeight
		}
	}
}

// defaultShorts numbers teams within their role (a01.. for attack, d01..
// for defence, t01.. for both), so that adding a team of one role never
// renames the teams of another.
func (s *Scenario) defaultShorts() {
	count := map[Role]int{}
	for i := range s.Teams {
		t := &s.Teams[i]
		// Teams with a role that is not valid share one series; their role
		// is reported anyway.
		role, letter := Role(""), "x"
		switch t.Role {
		case RoleAttack:
			role, letter = RoleAttack, "a"
		case RoleDefence:
			role, letter = RoleDefence, "d"
		case RoleBoth:
			role, letter = RoleBoth, "t"
		}
		count[role]++
		if t.Short == "" {
			t.Short = fmt.Sprintf("%s%02d", letter, count[role])
		}
	}
}

func defaultFloat(set func(string) bool, path string, dst *float64, def float64) {
	if !set(path) {
		*dst = def
	}
}

func defaultPrefix(set func(string) bool, path string, dst *netip.Prefix, def netip.Prefix) {
	if !set(path) {
		*dst = def
	}
}
