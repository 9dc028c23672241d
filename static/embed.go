// Package static holds the web UI's files, embedded in the binary so that
// one file is the whole server. It imports nothing of the project.
package static

import "embed"

// FS holds the public scoreboard page: index.html, app.js, style.css.
//
//go:embed index.html app.js style.css
var FS embed.FS
