package scoreboard

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
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

// CTFtime turns standings into the feed, the one every surface serves
// (the public API, the organizer's export, `cyrange export`). CTFtime has
// one ranking of the teams that play for points by attacking: attack
// teams and teams with role both, by total, so that a position never
// contradicts a score; equal totals keep their order in st (the board's
// tie-break, both-role teams first). Scores have two decimals, as in the
// standings sheet. A defence-only team has its own scorecard and no place
// in the feed.
func CTFtime(st []Standing) CTFtimeFeed {
	var playing []Standing
	for _, s := range st {
		if s.Role.Attacks() {
			playing = append(playing, s)
		}
	}
	sort.SliceStable(playing, func(i, j int) bool { return playing[i].Total > playing[j].Total })
	f := CTFtimeFeed{Standings: make([]CTFtimeEntry, 0, len(playing))}
	for i, s := range playing {
		f.Standings = append(f.Standings, CTFtimeEntry{Pos: i + 1, Team: s.Team, Score: math.Round(s.Total*100) / 100})
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

// WriteExport writes the standings of the exercise name in format:
// "ctftime" the CTFtime feed, "json" the standings as JSON, "csv" the
// standings sheet. Another format is ErrInvalid.
func WriteExport(w io.Writer, format, name string, st []Standing) error {
	switch format {
	case "ctftime":
		return json.NewEncoder(w).Encode(CTFtime(st))
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"exercise": name, "standings": st})
	case "csv":
		return WriteStandingsCSV(w, st)
	}
	return fmt.Errorf("scoreboard: export format %q: %w", format, ErrInvalid)
}

// WriteStandingsCSV writes the standings sheet: ExportColumns, then one
// ExportRow per team.
func WriteStandingsCSV(w io.Writer, st []Standing) error {
	cw := csv.NewWriter(w)
	_ = cw.Write(ExportColumns)
	for _, s := range st {
		_ = cw.Write(ExportRow(s))
	}
	cw.Flush()
	return cw.Error()
}
