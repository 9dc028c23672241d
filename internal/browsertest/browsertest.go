// Package browsertest drives a real headless Chromium, through the
// DevTools protocol, in the tests of the pages the project serves: the
// scoreboard's web UI and the targets' sites. It starts the browser, skips
// a test when there is none — or fails it when CYRANGE_REQUIRE_BROWSER is
// 1, as CI sets it, so that no page goes silently untested there — opens
// tabs that fail their test when the page throws, takes screenshots, and
// with the test binary's -update-docs flag writes the README's small
// copies under docs/.
//
// Only tests import it. It must never import what it tests: the pages are
// reached over HTTP only.
package browsertest

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/cyrange/cyrange/internal/pngshrink"
)

// RequireEnv turns a missing browser from a skip into a failure.
const RequireEnv = "CYRANGE_REQUIRE_BROWSER"

// updateDocs is a flag of every test binary that imports the package, so
// that one `go test -update-docs` writes the README's screenshots of
// whichever packages it runs.
var updateDocs = flag.Bool("update-docs", false, "also write the README's screenshots to docs/")

// DocsMaxBytes keeps the committed screenshots small.
const DocsMaxBytes = 150 << 10

// stepTimeout bounds one step of a test in the browser.
const stepTimeout = 20 * time.Second

// Browser is one Chromium process. Tests open their own tab in it, each in
// a browser context of its own (its own cookies and storage).
type Browser struct {
	ctx     context.Context // nil when there is no browser
	missing string          // why there is none
	cancel  func()
}

func findChromium() string {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Start starts a headless Chromium. Without one in PATH, or when it does
// not start, the Browser it returns has none, and every tab asked of it
// skips or fails its test. Close ends the process.
func Start() *Browser {
	path := findChromium()
	if path == "" {
		return &Browser{missing: "no chromium or chromium-browser in PATH (apt-get install chromium)", cancel: func() {}}
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
	// The first Do starts the browser; it must not carry a timeout, which
	// would end the browser with it.
	if err := chromedp.Do(ctx); err != nil {
		cancelCtx()
		cancelAlloc()
		return &Browser{missing: fmt.Sprintf("chromium at %s did not start: %v", path, err), cancel: func() {}}
	}
	return &Browser{ctx: ctx, cancel: func() {
		cancelCtx()
		cancelAlloc()
	}}
}

// Launch starts a browser for one test, closed when the test ends; the
// test skips, or fails as RequireEnv says, when there is none.
func Launch(t *testing.T) *Browser {
	t.Helper()
	b := Start()
	t.Cleanup(b.Close)
	b.Need(t)
	return b
}

// Close ends the browser and its tabs.
func (b *Browser) Close() { b.cancel() }

// Need skips the test, or fails it when RequireEnv is 1, when there is no
// browser.
func (b *Browser) Need(t *testing.T) {
	t.Helper()
	if b.ctx != nil {
		return
	}
	if os.Getenv(RequireEnv) == "1" {
		t.Fatalf("browser tests required (%s=1) but %s", RequireEnv, b.missing)
	}
	t.Skipf("browser tests skipped: %s", b.missing)
}

// Tab is one page in a fresh browser context. The page's uncaught
// exceptions and console errors fail the test when it ends.
type Tab struct {
	T   *testing.T
	Ctx context.Context

	close  context.CancelFunc
	mu     sync.Mutex
	errors []string
}

// NewTab opens a tab of width × height CSS pixels, closed when the test
// ends.
func (b *Browser) NewTab(t *testing.T, width, height int64) *Tab {
	t.Helper()
	b.Need(t)
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	tb := &Tab{T: t, Ctx: ctx, close: cancel}
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

// Close closes the tab before the test ends.
func (tb *Tab) Close() { tb.close() }

func (tb *Tab) listen(ev any) {
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

// Run runs steps with a deadline, failing the test on error.
func (tb *Tab) Run(what string, steps ...chromedp.Action[chromedp.Void]) {
	tb.T.Helper()
	ctx, cancel := context.WithTimeout(tb.Ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tb.T.Fatalf("%s: %v", what, err)
	}
}

// Follow runs steps that lead to another page (a click on a link, a
// form's submission), waits until that page has loaded and returns its
// HTTP response, the last of its redirects.
func (tb *Tab) Follow(what string, steps ...chromedp.Action[chromedp.Void]) *network.Response {
	tb.T.Helper()
	ctx, cancel := context.WithTimeout(tb.Ctx, stepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, steps...)
	if err != nil {
		tb.T.Fatalf("%s: %v", what, err)
	}
	return resp
}

// Eval evaluates a JavaScript expression (promises awaited).
func Eval[T any](tb *Tab, expr string) T {
	tb.T.Helper()
	ctx, cancel := context.WithTimeout(tb.Ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		tb.T.Fatalf("evaluating %q: %v", expr, err)
	}
	return v
}

// WaitJS waits until expr is truthy, up to d.
func (tb *Tab) WaitJS(what, expr string, d time.Duration) {
	tb.T.Helper()
	ctx, cancel := context.WithTimeout(tb.Ctx, d+5*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(d), chromedp.WithPollingInterval(20*time.Millisecond)))
	if err != nil {
		tb.T.Fatalf("waiting for %s (%s): %v", what, expr, err)
	}
}

// AfterNavigation waits until expr is true in the page a navigation (a
// form's post, its redirects) leads to: an evaluation the navigation
// cuts short is tried again.
func (tb *Tab) AfterNavigation(what, expr string, d time.Duration) {
	tb.T.Helper()
	deadline := time.Now().Add(d)
	for {
		ctx, cancel := context.WithTimeout(tb.Ctx, time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			tb.T.Logf("at %s: %s", Eval[string](tb, `location.href`), Eval[string](tb, `document.documentElement.outerHTML`))
			tb.T.Fatalf("waiting for %s (%s): %v", what, expr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Press activates the control sel once it is shown and enabled, as a
// keyboard user's Enter would: no mouse coordinates that a late layout
// change could make miss.
func Press(sel string) chromedp.Action[chromedp.Void] {
	ready := fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && !e.disabled && e.getClientRects().length > 0; })()`, sel)
	return chromedp.Steps(
		chromedp.Poll[chromedp.Void](ready, chromedp.WithPollingTimeout(10*time.Second), chromedp.WithPollingInterval(20*time.Millisecond)),
		func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
			_, err := chromedp.Evaluate[bool](fmt.Sprintf(`(document.querySelector(%q).click(), true)`, sel))(ctx, t)
			return chromedp.Void{}, err
		})
}

// Open loads url in the tab.
func (tb *Tab) Open(url string) {
	tb.T.Helper()
	tb.Run("opening "+url, chromedp.Navigate(url))
}

// Text is the text content of the first element sel matches, or "".
func (tb *Tab) Text(sel string) string {
	tb.T.Helper()
	return Eval[string](tb, fmt.Sprintf(`document.querySelector(%q)?.textContent ?? ''`, sel))
}

// Screenshot takes a PNG of the viewport (or of the whole page when full)
// at the given scale.
func (tb *Tab) Screenshot(full bool, scale float64) []byte {
	tb.T.Helper()
	dims := Eval[[]float64](tb, fmt.Sprintf(`[document.documentElement.clientWidth, %t ? document.documentElement.scrollHeight : innerHeight]`, full))
	ctx, cancel := context.WithTimeout(tb.Ctx, stepTimeout)
	defer cancel()
	yes := true
	buf, err := chromedp.Run(ctx, func(ctx context.Context, t *chromedp.Target) ([]byte, error) {
		r, err := cdp.Call(ctx, t, page.CaptureScreenshot, page.CaptureScreenshotParams{
			Format: page.CaptureScreenshotFormatPng, FromSurface: &yes, CaptureBeyondViewport: &full,
			Clip: &page.Viewport{Width: dims[0], Height: dims[1], Scale: scale},
		})
		if err != nil {
			return nil, err
		}
		return r.Data, nil
	})
	if err != nil {
		tb.T.Fatalf("screenshot: %v", err)
	}
	if _, err := png.Decode(bytes.NewReader(buf)); err != nil {
		tb.T.Fatalf("screenshot is not a PNG: %v", err)
	}
	return buf
}

// OutDir is where screenshots go, $CYRANGE_TEST_OUT or cyrange-screens
// in the temporary directory: never into the source tree.
func OutDir(t *testing.T) string {
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

// Save writes b to dir/name.
func Save(t *testing.T, dir, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// UpdatingDocs reports whether the test binary runs with -update-docs.
func UpdatingDocs() bool { return *updateDocs }

// SaveDoc shrinks a screenshot and writes it as name in the module's docs
// folder, failing the test when it is over DocsMaxBytes. Call it only when
// UpdatingDocs.
func SaveDoc(t *testing.T, name string, shot []byte) {
	t.Helper()
	b, err := pngshrink.Shrink(shot)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > DocsMaxBytes {
		t.Errorf("%s is %d KB, over %d KB", name, len(b)>>10, DocsMaxBytes>>10)
	}
	dir, err := docsDir()
	if err != nil {
		t.Fatal(err)
	}
	Save(t, dir, name, b)
}

// docsDir is the docs folder beside the go.mod of the module the test
// runs in (go test runs it in its package's folder).
func docsDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("browsertest: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "docs"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("browsertest: no go.mod above the test's folder")
		}
		dir = parent
	}
}
