package serve

import (
	"fmt"
	"io"
	"path/filepath"
	"text/tabwriter"

	"github.com/cyrange/cyrange/scoreboard/exercisedb"
	"github.com/cyrange/cyrange/scoreboard/tokens"
)

// WriteWhere tells the organizer where everything of the exercise is,
// its data directory being dataDir.
func (x *Exercise) WriteWhere(w io.Writer, dataDir string) {
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		abs = dataDir
	}
	sc := x.Scenario()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "cyrange: exercise %q (%s)\n", sc.Name, sc.Title)
	fmt.Fprintf(tw, "  scoreboard\thttp://%s/\n", x.HTTPAddr())
	fmt.Fprintf(tw, "  API\thttp://%s/api/v1/\n", x.HTTPAddr())
	fmt.Fprintf(tw, "  live stream\tws://%s/api/v1/live\n", x.HTTPAddr())
	if a := x.MetricsAddr(); a != "" {
		fmt.Fprintf(tw, "  metrics\thttp://%s/metrics\n", a)
	}
	fmt.Fprintf(tw, "  flag submission (TCP)\t%s\n", x.SubmitAddr())
	fmt.Fprintf(tw, "  flag submission (HTTP)\tPUT http://%s/flags\n", x.HTTPAddr())
	fmt.Fprintf(tw, "  team tokens\t%s\n", filepath.Join(abs, tokens.FileName))
	fmt.Fprintf(tw, "  event log\t%s\n", filepath.Join(abs, exercisedb.File))
	p, frozen := x.Game().Phase()
	fmt.Fprintf(tw, "  phase\t%s%s\n", p, map[bool]string{true: " (board frozen)"}[frozen])
	tw.Flush()
	if p.String() == "setup" {
		fmt.Fprintf(w, "\nStart the game with: cyrange game start --data %s\n", dataDir)
	}
	fmt.Fprintln(w)
}
