package browser

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/cyrange/cyrange/internal/browsertest"
)

// browser is the one Chromium every test of the package shares; each test
// opens its own tab, in a browser context of its own, in it.
var browser *browsertest.Browser

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	browser = browsertest.Start()
	code := m.Run()
	browser.Close()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutines left behind:", err)
			return 1
		}
	}
	return code
}

// tab is a page of the shared browser, with this package's own steps
// (logging in, waiting for the live feed) as methods.
type tab struct{ *browsertest.Tab }

// newTab opens a tab of width × height CSS pixels; the test skips, or
// fails with CYRANGE_REQUIRE_BROWSER=1, without a browser.
func newTab(t *testing.T, width, height int64) *tab {
	t.Helper()
	return &tab{browser.NewTab(t, width, height)}
}

// eval evaluates a JavaScript expression (promises awaited).
func eval[T any](tb *tab, expr string) T {
	tb.T.Helper()
	return browsertest.Eval[T](tb.Tab, expr)
}
