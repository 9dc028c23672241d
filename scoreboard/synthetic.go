package scoreboard

import (
	"math/rand/v2"
	"time"
)

// SyntheticLog returns n encoded events of a plausible game on cfg: every
// tick plants every store of every replica, checks every replica, and each
// attack-capable team captures some of the live flags of the others. It
// feeds replay benchmarks; the same cfg and n always give the same log.
func SyntheticLog(cfg *Config, n int) [][]byte {
	rng := rand.New(rand.NewPCG(uint64(n), 42))
	out := make([][]byte, 0, n)
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	add := func(e Event) bool {
		if len(out) >= n {
			return false
		}
		e.Time = at
		out = append(out, e.AppendEncode(nil))
		return true
	}
	add(Event{Kind: KindPhaseChanged, Code: uint8(PhaseRunning), Text: ActStart, Team: -1})
	statuses := []Status{StatusOK, StatusOK, StatusOK, StatusMumble, StatusOffline}
	for tick := int32(1); len(out) < n; tick++ {
		at = at.Add(cfg.Tick)
		add(Event{Kind: KindTickStarted, Tick: tick, Value: int64(cfg.Tick), Team: -1})
		for _, r := range cfg.Replicas {
			st := statuses[rng.IntN(len(statuses))]
			for s := range cfg.Services[r.Service].Stores {
				add(Event{Kind: KindFlagIssued, Tick: tick, Owner: int16(r.Owner), Service: int16(r.Service),
					Store: int16(s), Code: uint8(st), Team: -1, Text: "user@example"})
			}
			add(Event{Kind: KindCheckResult, Tick: tick, Owner: int16(r.Owner), Service: int16(r.Service),
				Code: uint8(st), Team: -1})
			for a, t := range cfg.Teams {
				if !t.Role.Attacks() || a == r.Owner {
					continue
				}
				for s := range cfg.Services[r.Service].Stores {
					if rng.IntN(3) == 0 {
						continue
					}
					ft := tick - int32(rng.IntN(cfg.FlagLifetime))
					if ft < 1 {
						ft = tick
					}
					// A team captures each flag at most once: only the
					// flag of a distinct back-tick per store.
					if !add(Event{Kind: KindFlagCaptured, Tick: tick, FlagTick: ft, Team: int16(a),
						Owner: int16(r.Owner), Service: int16(r.Service), Store: int16(s)}) {
						return out
					}
				}
			}
		}
	}
	return out
}
