// Package scoreboard is the game's domain: teams, services, ticks, flags,
// captures, checks, detections, the events that record them, and scoring as
// a pure fold over those events.
//
// Everything that changes the game is an Event appended to a durable Log
// first and applied to the State only once it is durable, in log order; the
// standings are therefore a function of the log, and a restart or a replay
// rebuilds them exactly.
//
// This package must never import bbolt, echo or the Docker SDK: storage,
// HTTP and the range plug in through the small interfaces declared here.
package scoreboard

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Errors returned by the game. Callers test them with errors.Is; the web
// layer maps each to one HTTP status.
var (
	ErrInvalid      = errors.New("invalid")
	ErrNotFound     = errors.New("not found")
	ErrConflict     = errors.New("conflict")
	ErrUnauthorized = errors.New("unauthorized")
	ErrForbidden    = errors.New("forbidden")
	ErrUnavailable  = errors.New("unavailable")
	ErrRateLimited  = errors.New("rate limited")
)

// Role is what a team does in the exercise.
type Role string

// Team roles: attack teams only attack, defence teams own a replica and
// defend it, and teams with role both do both (classic attack/defence).
const (
	RoleAttack  Role = "attack"
	RoleDefence Role = "defence"
	RoleBoth    Role = "both"
)

// Attacks reports whether the role may submit flags.
func (r Role) Attacks() bool { return r == RoleAttack || r == RoleBoth }

// Defends reports whether the role owns a replica.
func (r Role) Defends() bool { return r == RoleDefence || r == RoleBoth }

// Team is one team of the exercise. ID is its index in Config.Teams.
type Team struct {
	ID   int    `json:"id"`
	Name string `json:"name"`
	Role Role   `json:"role"`
	// Network is the team's source address range (CIDR); a connection
	// from it identifies the team. Empty when unknown.
	Network string `json:"network,omitempty"`
}

// Service is one defended service of the scenario. ID is its index in
// Config.Services.
type Service struct {
	ID     int      `json:"id"`
	Name   string   `json:"name"`
	Title  string   `json:"title,omitempty"`
	Weight float64  `json:"weight"`
	Stores []string `json:"stores"`
}

// Replica is one defending team's instance of one service.
type Replica struct {
	Owner   int    `json:"owner"`
	Service int    `json:"service"`
	Address string `json:"address"`
	// Ports are the ports teams reach the replica on (through their
	// gateway), in the scenario's order; its admin console is not one.
	Ports []Port `json:"ports,omitempty"`
}

// Port is one named port of a replica.
type Port struct {
	Name   string `json:"name"`
	Number int    `json:"port"`
}

// Scoring holds the scenario's scoring constants (SCORING.md).
type Scoring struct {
	FirstBlood          float64 `json:"firstBlood"`
	DetectionTrue       float64 `json:"detectionTrue"`
	DetectionTimeliness float64 `json:"detectionTimeliness"`
	DetectionFalse      float64 `json:"detectionFalse"`
	DetectionStore      float64 `json:"detectionStore"`
}

// DefaultScoring returns SCORING.md's constants.
func DefaultScoring() Scoring {
	return Scoring{FirstBlood: 10, DetectionTrue: 5, DetectionTimeliness: 5, DetectionFalse: 2.5, DetectionStore: 2}
}

// Config is the game's part of a scenario.
type Config struct {
	Name         string        `json:"name"`
	Title        string        `json:"title"`
	Locale       string        `json:"locale,omitempty"` // the web UI's default language: "vi" or "en"
	Teams        []Team        `json:"teams"`
	Services     []Service     `json:"services"`
	Replicas     []Replica     `json:"replicas"`
	Tick         time.Duration `json:"tick"`
	FlagLifetime int           `json:"flagLifetime"`
	GetflagDepth int           `json:"getflagDepth"`
	// Duration and FreezeAt count running time only (pauses excluded);
	// zero means never.
	Duration         time.Duration `json:"duration"`
	FreezeAt         time.Duration `json:"freezeAt"`
	RequireTelemetry bool          `json:"requireTelemetry"`
	FlagPrefix       string        `json:"flagPrefix"`
	Scoring          Scoring       `json:"scoring"`
	// RatePerTeam and Burst bound flag submissions per team.
	RatePerTeam float64 `json:"ratePerTeam"`
	Burst       int     `json:"burst"`
}

// maxTeams and maxServices follow from the flag encoding (one byte each).
const (
	maxTeams    = 255
	maxServices = 64
	maxStores   = 16
)

// Validate checks the invariants the game relies on.
func (c *Config) Validate() error {
	if len(c.Teams) == 0 || len(c.Teams) > maxTeams {
		return fmt.Errorf("scoreboard: config: %d teams, want 1..%d: %w", len(c.Teams), maxTeams, ErrInvalid)
	}
	if len(c.Services) == 0 || len(c.Services) > maxServices {
		return fmt.Errorf("scoreboard: config: %d services, want 1..%d: %w", len(c.Services), maxServices, ErrInvalid)
	}
	names := map[string]bool{}
	for i, t := range c.Teams {
		if t.ID != i {
			return fmt.Errorf("scoreboard: config: team %q has id %d, want %d: %w", t.Name, t.ID, i, ErrInvalid)
		}
		if t.Name == "" || names[t.Name] {
			return fmt.Errorf("scoreboard: config: team name %q empty or repeated: %w", t.Name, ErrInvalid)
		}
		names[t.Name] = true
		if !t.Role.Attacks() && !t.Role.Defends() {
			return fmt.Errorf("scoreboard: config: team %q: unknown role %q: %w", t.Name, t.Role, ErrInvalid)
		}
	}
	for i, s := range c.Services {
		if s.ID != i || s.Name == "" {
			return fmt.Errorf("scoreboard: config: service %d (%q) has a bad id or name: %w", i, s.Name, ErrInvalid)
		}
		if !(s.Weight > 0) || math.IsInf(s.Weight, 0) {
			return fmt.Errorf("scoreboard: config: service %q: weight %v: %w", s.Name, s.Weight, ErrInvalid)
		}
		if len(s.Stores) == 0 || len(s.Stores) > maxStores {
			return fmt.Errorf("scoreboard: config: service %q: %d flag stores, want 1..%d: %w", s.Name, len(s.Stores), maxStores, ErrInvalid)
		}
	}
	for _, r := range c.Replicas {
		if r.Owner < 0 || r.Owner >= len(c.Teams) || !c.Teams[r.Owner].Role.Defends() {
			return fmt.Errorf("scoreboard: config: replica owner %d is not a defending team: %w", r.Owner, ErrInvalid)
		}
		if r.Service < 0 || r.Service >= len(c.Services) {
			return fmt.Errorf("scoreboard: config: replica service %d unknown: %w", r.Service, ErrInvalid)
		}
	}
	if c.Tick < time.Millisecond {
		return fmt.Errorf("scoreboard: config: tick %v too short: %w", c.Tick, ErrInvalid)
	}
	if c.FlagLifetime < 1 || c.GetflagDepth < 0 || c.GetflagDepth > c.FlagLifetime {
		return fmt.Errorf("scoreboard: config: flag lifetime %d / getflag depth %d: %w", c.FlagLifetime, c.GetflagDepth, ErrInvalid)
	}
	if len(c.FlagPrefix) > maxPrefix {
		return fmt.Errorf("scoreboard: config: flag prefix longer than %d: %w", maxPrefix, ErrInvalid)
	}
	for _, r := range c.FlagPrefix {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return fmt.Errorf("scoreboard: config: flag prefix %q must be [A-Z0-9]: %w", c.FlagPrefix, ErrInvalid)
		}
	}
	return nil
}

// attackers counts the attack-capable teams (A in SCORING.md).
func (c *Config) attackers() int {
	n := 0
	for _, t := range c.Teams {
		if t.Role.Attacks() {
			n++
		}
	}
	return n
}

// Status is a service's state for a tick, as the checkers saw it.
type Status uint8

// Service statuses. Unknown means not checked (yet).
const (
	StatusUnknown Status = iota
	StatusOK
	StatusRecovering
	StatusMumble
	StatusOffline
	// StatusError means the checker itself failed; the team is not blamed
	// and gets the availability points of OK.
	StatusError
)

var statusNames = [...]string{"UNKNOWN", "OK", "RECOVERING", "MUMBLE", "OFFLINE", "INTERNAL_ERROR"}

func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("STATUS(%d)", s)
}

// MarshalText makes statuses readable in JSON.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText parses a status name.
func (s *Status) UnmarshalText(b []byte) error {
	for i, n := range statusNames {
		if n == string(b) {
			*s = Status(i)
			return nil
		}
	}
	return fmt.Errorf("scoreboard: unknown status %q: %w", b, ErrInvalid)
}

// up reports whether the status counts as available.
func (s Status) up() bool { return s == StatusOK || s == StatusRecovering || s == StatusError }

// Phase is where the game is in its life.
type Phase uint8

// Game phases. Frozen is running with the public board frozen.
const (
	PhaseSetup Phase = iota
	PhaseRunning
	PhasePaused
	PhaseEnded
)

var phaseNames = [...]string{"setup", "running", "paused", "ended"}

func (p Phase) String() string {
	if int(p) < len(phaseNames) {
		return phaseNames[p]
	}
	return fmt.Sprintf("phase(%d)", p)
}

// MarshalText makes phases readable in JSON.
func (p Phase) MarshalText() ([]byte, error) { return []byte(p.String()), nil }
