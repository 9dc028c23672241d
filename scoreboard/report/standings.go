package report

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/cyrange/cyrange/scoreboard"
)

// WriteStandings writes the standings as an aligned text table, as
// `cyrange replay` prints them.
func WriteStandings(w io.Writer, st []scoreboard.Standing) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "rank\tteam\trole\ttotal\tattack\tavailability\tprotected\tlost\tdetections\tcaptures\ttrue/false/missed\t")
	for _, s := range st {
		det := ""
		if s.Role.Defends() {
			det = fmt.Sprintf("%d/%d/%d", s.DetectionsTrue, s.DetectionsFalse, s.DetectionsMissed)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%d\t%s\t\n", s.Rank, s.Team, s.Role, s.Total,
			s.Attack, s.SLA, s.Protected, s.Lost, s.Detection, s.Captures, det)
	}
	tw.Flush()
}
