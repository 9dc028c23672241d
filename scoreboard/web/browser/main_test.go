package browser

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"go.uber.org/goleak"
)

// requireEnv turns a missing browser from a skip into a failure (CI sets
// it, so that the UI is never silently untested there).
const requireEnv = "CYRANGE_REQUIRE_BROWSER"

// browser is the one Chromium every test of the package shares; each test
// opens its own browser context (its own cookies and storage) in it.
var browser struct {
	ctx     context.Context
	missing string // why there is no browser, when there is none
}

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	cancel := startBrowser()
	code := m.Run()
	cancel()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutines left behind:", err)
			return 1
		}
	}
	return code
}

func findChromium() string {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

func startBrowser() (cancel func()) {
	path := findChromium()
	if path == "" {
		browser.missing = "no chromium or chromium-browser in PATH (apt-get install chromium)"
		return func() {}
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("font-render-hinting", "none"),
		chromedp.WindowSize(1920, 1080),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	// The first Run starts the browser; it must not carry a timeout, which
	// would end the browser with it.
	if err := chromedp.Do(ctx); err != nil {
		browser.missing = fmt.Sprintf("chromium at %s did not start: %v", path, err)
		cancelCtx()
		cancelAlloc()
		return func() {}
	}
	browser.ctx = ctx
	return func() {
		cancelCtx()
		cancelAlloc()
	}
}

// needBrowser skips the test without a browser, or fails it when the
// environment requires one.
func needBrowser(t *testing.T) {
	t.Helper()
	if browser.ctx != nil {
		return
	}
	if os.Getenv(requireEnv) == "1" {
		t.Fatalf("browser tests required (%s=1) but %s", requireEnv, browser.missing)
	}
	t.Skipf("browser tests skipped: %s", browser.missing)
}

// tab is one page in a fresh browser context, with the page's script
// errors collected: a test fails if the page threw.
type tab struct {
	t      *testing.T
	ctx    context.Context
	close  context.CancelFunc // closes the tab early; cleanup does it anyway
	mu     sync.Mutex
	errors []string
}

// newTab opens a tab of width × height CSS pixels.
func newTab(t *testing.T, width, height int64) *tab {
	t.Helper()
	needBrowser(t)
	ctx, cancel := chromedp.NewContext(browser.ctx, chromedp.WithNewBrowserContext())
	tb := &tab{t: t, ctx: ctx, close: cancel}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(width, height)); err != nil {
		cancel()
		t.Fatalf("opening a tab: %v", err)
	}
	if err := chromedp.Listen(ctx, tb.listen); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		tb.mu.Lock()
		defer tb.mu.Unlock()
		for _, e := range tb.errors {
			t.Errorf("page error: %s", e)
		}
	})
	return tb
}

func (tb *tab) listen(ev any) {
	switch e := ev.(type) {
	case *runtime.EventExceptionThrown:
		d := e.ExceptionDetails
		msg := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			msg = d.Exception.Description
		}
		msg = fmt.Sprintf("%s (%s:%d:%d)", msg, d.URL, d.LineNumber+1, d.ColumnNumber+1)
		tb.mu.Lock()
		tb.errors = append(tb.errors, msg)
		tb.mu.Unlock()
	case *runtime.EventConsoleAPICalled:
		if e.Type != runtime.ConsoleAPICalledTypeError {
			return
		}
		var parts []string
		for _, a := range e.Args {
			if a.Description != "" {
				parts = append(parts, a.Description)
			} else {
				parts = append(parts, strings.Trim(fmt.Sprint(a.Value), `"`))
			}
		}
		text := strings.Join(parts, " ")
		tb.mu.Lock()
		tb.errors = append(tb.errors, "console.error: "+text)
		tb.mu.Unlock()
	}
}

// run runs steps with a deadline, failing the test on error.
func (tb *tab) run(what string, steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tb.t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression (promises awaited).
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.t.Fatalf("evaluating %q: %v", expr, err)
	}
	return v
}

// waitJS waits until expr is truthy, up to d.
func (tb *tab) waitJS(what, expr string, d time.Duration) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, d+5*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(d), chromedp.WithPollingInterval(20*time.Millisecond)))
	if err != nil {
		tb.t.Fatalf("waiting for %s (%s): %v", what, expr, err)
	}
}

// press activates the control sel once it is shown and enabled, as a
// keyboard user's Enter would: no mouse coordinates that a late layout
// change could make miss.
func press(sel string) chromedp.Action[chromedp.Void] {
	ready := fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && !e.disabled && e.getClientRects().length > 0; })()`, sel)
	return chromedp.Steps(
		chromedp.Poll[chromedp.Void](ready, chromedp.WithPollingTimeout(10*time.Second), chromedp.WithPollingInterval(20*time.Millisecond)),
		func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
			_, err := chromedp.Evaluate[bool](fmt.Sprintf(`(document.querySelector(%q).click(), true)`, sel))(ctx, t)
			return chromedp.Void{}, err
		})
}

func (tb *tab) open(url string) {
	tb.t.Helper()
	tb.run("opening "+url, chromedp.Navigate(url))
}

func (tb *tab) text(sel string) string {
	tb.t.Helper()
	return eval[string](tb, fmt.Sprintf(`document.querySelector(%q)?.textContent ?? ''`, sel))
}

// outDir is where screenshots go: never into the source tree.
func outDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("CYRANGE_TEST_OUT")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "cyrange-screens")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
