package main

import (
	"flag"

	"github.com/cyrange/cyrange/scoreboard/live"
	"github.com/cyrange/cyrange/scoreboard/serve"
	"github.com/cyrange/cyrange/scoreboard/web"
)

// webFlags are the web port's limits and the metrics address, shared by
// run and demo.
type webFlags struct {
	metrics          *string
	viewersPerSource *int
	connsPerSource   *int
}

func addWebFlags(fs *flag.FlagSet) *webFlags {
	return &webFlags{
		metrics: fs.String("metrics", "", "also serve /metrics, without a token, on this address (for Prometheus on a private network); on the web port it needs the organizer's token"),
		viewersPerSource: fs.Int("live-per-source", live.DefaultMaxViewersPerSource,
			"most public live viewers from one address (a venue's audience behind one NAT address counts as one)"),
		connsPerSource: fs.Int("http-per-source", web.DefaultMaxConnsPerSource,
			"most connections one address may hold on the web port, websockets included (keep it above --live-per-source)"),
	}
}

// check reports a usage error for values that cannot work.
func (w *webFlags) check() error {
	if *w.viewersPerSource < 1 || *w.connsPerSource < 1 {
		return usagef("--live-per-source and --http-per-source must be at least 1")
	}
	return nil
}

func (w *webFlags) apply(o *serve.Options) {
	o.MetricsAddr = *w.metrics
	o.ViewersPerSource = *w.viewersPerSource
	o.ConnsPerSource = *w.connsPerSource
}
