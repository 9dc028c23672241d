// Package browser holds the web UI's end-to-end tests: each boots the
// whole HTTP front in-process (a real game over an in-memory log, the live
// hub, the flag submission handler and the web server on 127.0.0.1) and
// drives the pages in a headless Chromium through the DevTools protocol.
//
// The package has tests only. The tests skip when no chromium or
// chromium-browser is in PATH, and fail instead when CYRANGE_REQUIRE_BROWSER
// is 1. Screenshots go to $CYRANGE_TEST_OUT, or to cyrange-screens in the
// temporary directory; go test -run Screenshots -update-docs also writes the
// small copies committed under docs/.
//
// It must never import the store, bbolt or the Docker SDK: the server under
// test is the one the web package builds, over scoreboardtest's log.
package browser
