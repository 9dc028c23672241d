package scoreboard

import "math"

// CTFtimeFeed is the CTFtime scoreboard feed (PROTOCOLS.md §5).
type CTFtimeFeed struct {
	Standings []CTFtimeEntry `json:"standings"`
}

// CTFtimeEntry is one team's line in the feed.
type CTFtimeEntry struct {
	Pos   int     `json:"pos"`
	Team  string  `json:"team"`
	Score float64 `json:"score"`
}

// CTFtime turns standings into the feed. CTFtime has one ranking of the
// teams that play for points by attacking: attack teams and teams with
// role both, in board order (both first, as in Standings). A defence-only
// team has its own scorecard and no place in the feed.
func CTFtime(st []Standing) CTFtimeFeed {
	f := CTFtimeFeed{Standings: []CTFtimeEntry{}}
	for _, s := range st {
		if !s.Role.Attacks() {
			continue
		}
		f.Standings = append(f.Standings, CTFtimeEntry{Pos: len(f.Standings) + 1, Team: s.Team,
			Score: math.Round(s.Total*100) / 100})
	}
	return f
}
