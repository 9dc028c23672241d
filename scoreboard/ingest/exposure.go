package ingest

import (
	"github.com/cyrange/cyrange/images/target"
	"github.com/cyrange/cyrange/scenarios"
	"github.com/cyrange/cyrange/scoreboard"
)

// Exposure is what the after-action report's technique table needs of
// the targets and the game cannot know: per service of sc that runs a
// built-in target of ts, the weaknesses its options plant, with their
// ATT&CK techniques and the flag stores their exploits reach. Services
// of other images plant nothing the report can name.
func Exposure(sc *scenarios.Scenario, ts target.Set) scoreboard.Exposure {
	exp := scoreboard.Exposure{}
	for _, svc := range sc.Services {
		t, ok := ts.Of(svc)
		if !ok {
			continue
		}
		for _, w := range t.Weaknesses() {
			if t.WeaknessOn(svc.Options, w.Name) {
				exp[svc.Name] = append(exp[svc.Name], scoreboard.ExposedWeakness{Name: w.Name,
					Techniques: append([]string(nil), w.Techniques...), Stores: append([]string(nil), w.Stores...)})
			}
		}
	}
	return exp
}
