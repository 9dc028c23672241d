// Package static holds the web UI's files, embedded in the binary so that
// one file is the whole server: plain HTML, CSS and JavaScript modules,
// with no build step and nothing loaded from elsewhere. It imports nothing
// of the project.
//
// Pages: index.html (public scoreboard), war.html (war room), scoring.html
// (how scoring works), team.html (attack and defence portal), admin.html
// (organizer console). Shared modules: i18n.js, dom.js, stream.js,
// board.js, chart.js.
package static

import "embed"

// FS holds the UI's files at its root.
//
//go:embed *.html *.js *.css *.svg
var FS embed.FS
