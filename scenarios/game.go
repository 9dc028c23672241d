package scenarios

import (
	"github.com/cyrange/cyrange/scoreboard"
)

// Placement says where the range put things, which the scenario alone does
// not know: the address of each replica and the source network of each
// team. The range's plan provides it; without a range (driver none) both
// may be empty.
type Placement struct {
	// ReplicaAddress returns the host of the replica of service svc owned
	// by team owner (indices into Scenario.Teams and Scenario.Services).
	ReplicaAddress func(owner, svc int) string
	// TeamNetwork returns the CIDR team i's traffic comes from, or "".
	TeamNetwork func(i int) string
	// ReplicaPorts returns the ports teams reach that replica on; nil
	// means the service's own ports (the targets run elsewhere, as the
	// scenario describes them).
	ReplicaPorts func(owner, svc int) []Port
}

// GameConfig turns the scenario into the game's configuration.
func (s *Scenario) GameConfig(p Placement) *scoreboard.Config {
	c := &scoreboard.Config{
		Name:             s.Name,
		Title:            s.Title,
		Locale:           s.Locale,
		Tick:             s.Tick,
		FlagLifetime:     s.FlagLifetime,
		GetflagDepth:     s.GetflagDepth,
		Duration:         s.Duration,
		FreezeAt:         s.FreezeAt,
		RequireTelemetry: s.RequireTelemetry,
		FlagPrefix:       s.FlagFormat.Prefix,
		Scoring: scoreboard.Scoring{
			FirstBlood:          s.Scoring.FirstBlood,
			DetectionTrue:       s.Scoring.DetectionTrue,
			DetectionTimeliness: s.Scoring.DetectionTimeliness,
			DetectionFalse:      s.Scoring.DetectionFalse,
			DetectionStore:      s.Scoring.DetectionStore,
		},
		RatePerTeam: s.Submission.Rate,
		Burst:       s.Submission.Burst,
	}
	for i, t := range s.Teams {
		team := scoreboard.Team{ID: i, Name: t.Name, Role: scoreboard.Role(t.Role)}
		if p.TeamNetwork != nil {
			team.Network = p.TeamNetwork(i)
		}
		c.Teams = append(c.Teams, team)
	}
	for i, svc := range s.Services {
		c.Services = append(c.Services, scoreboard.Service{ID: i, Name: svc.Name, Title: svc.Title,
			Weight: svc.Weight, Stores: append([]string(nil), svc.FlagStores...)})
	}
	for i, t := range s.Teams {
		if !t.Role.CanDefend() {
			continue
		}
		for j := range s.Services {
			r := scoreboard.Replica{Owner: i, Service: j}
			if p.ReplicaAddress != nil {
				r.Address = p.ReplicaAddress(i, j)
			}
			ports := s.Services[j].Ports
			if p.ReplicaPorts != nil {
				ports = p.ReplicaPorts(i, j)
			}
			for _, port := range ports {
				r.Ports = append(r.Ports, scoreboard.Port{Name: port.Name, Number: port.Number})
			}
			c.Replicas = append(c.Replicas, r)
		}
	}
	return c
}
