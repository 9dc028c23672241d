package scoreboard

import (
	"math"
	"strconv"
)

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

// ExportColumns are the columns of the standings sheet (`cyrange export
// --format csv` and the organizer's export), ExportRow one team's row.
// The defence's scorecard follows the original columns, so that sheets
// made before it still line up.
var ExportColumns = []string{"rank", "team", "role", "total", "attack", "defence", "availability_points", "protected",
	"lost", "detection", "captures", "first_bloods", "flags_lost", "flags_protected", "availability",
	"detections_true", "detections_false", "detections_duplicate", "incidents", "detections_missed",
	"mean_time_to_detect"}

// ExportRow is s as a row under ExportColumns: points with two decimals,
// availability as a share, the mean time to detect in seconds.
func ExportRow(s Standing) []string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
	i := strconv.Itoa
	return []string{i(s.Rank), s.Team, string(s.Role), f(s.Total), f(s.Attack), f(s.Defence), f(s.SLA),
		f(s.Protected), f(s.Lost), f(s.Detection), i(s.Captures), i(s.FirstBloods), i(s.FlagsLost),
		i(s.FlagsProtected), f(s.Availability), i(s.DetectionsTrue), i(s.DetectionsFalse), i(s.DetectionsDuplicate),
		i(s.Incidents), i(s.DetectionsMissed), f(s.MeanTimeToDetect)}
}
