// Package browser drives a real headless Chromium for Orbit's UI tests,
// through the DevTools protocol (chromedp). make test installs Chromium and
// axe-core (scripts/browser.sh) and exports where they are:
//
//	ORBIT_CHROMIUM      the chromium binary
//	ORBIT_AXE_JS        axe-core's axe.min.js, the accessibility checker
//	ORBIT_SCREENSHOTS   optional: a directory for Screenshot's PNGs (make screenshots)
//
// chromedp rather than Playwright: the scenarios are Go tests beside the
// end-to-end harness they use (the real orbit binary, the real Nomad
// agent), with no second test runner and no Node dependency beyond the
// axe-core script. Every page's console errors and uncaught exceptions
// fail the test: a Content-Security-Policy violation is one.
package browser

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/orbit-ci/orbit/shared/testenv"
)

// Browser is one Chromium (its own profile) with one tab.
type Browser struct {
	t   testing.TB
	ctx context.Context

	mu       sync.Mutex
	problems []string
	// allowed console messages (substrings), e.g. an expected 403's log line.
	allowed []string
}

// New starts Chromium for t; it is stopped when t ends. Without
// ORBIT_CHROMIUM the test is skipped locally and fails in CI.
func New(t testing.TB) *Browser {
	t.Helper()
	bin := testenv.Need(t, "ORBIT_CHROMIUM", "the UI scenarios run in a real Chromium (make test installs it)")
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Headless,
		chromedp.WindowSize(1280, 900),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	b := &Browser{t: t, ctx: ctx}
	if err := chromedp.Do(ctx); err != nil { // starts the browser and opens the tab
		cancel()
		cancelAlloc()
		t.Fatalf("browser: start chromium %s: %v", bin, err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); b.watchConsole() }()
	go func() { defer wg.Done(); b.acceptDialogs() }()
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		wg.Wait()
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, p := range b.problems {
			t.Errorf("browser: %s", p)
		}
	})
	return b
}

// watchConsole records console errors and uncaught exceptions (a
// Content-Security-Policy violation is a console error).
func (b *Browser) watchConsole() {
	for m, err := range chromedp.Console(b.ctx) {
		if err != nil {
			return
		}
		if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException {
			b.problem(fmt.Sprintf("console %s at %s:%d: %s", m.Type, m.URL, m.Line+1, m.Text))
		}
	}
}

// acceptDialogs answers yes to every confirmation (forms with data-confirm).
func (b *Browser) acceptDialogs() {
	for _, err := range chromedp.Events(b.ctx, page.JavascriptDialogOpening) {
		if err != nil {
			return
		}
		_, _ = chromedp.Call(b.ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
	}
}

func (b *Browser) problem(p string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, a := range b.allowed {
		if strings.Contains(p, a) {
			return
		}
	}
	b.problems = append(b.problems, p)
}

// Allow tolerates console errors containing s (a page that answers 403 on
// purpose logs "Failed to load resource").
func (b *Browser) Allow(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.allowed = append(b.allowed, s)
}

// Context is the tab's context, for chromedp actions.
func (b *Browser) Context() context.Context { return b.ctx }

// deadline bounds one step of a scenario.
const deadline = 90 * time.Second

// Do runs actions in the tab, failing the test on error.
func (b *Browser) Do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, deadline)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("browser: %s (at %s): %v", what, b.Location(), err)
	}
}

// Get runs one action that returns a value, failing the test on error.
func Get[T any](b *Browser, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, deadline)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("browser: %s (at %s): %v", what, b.Location(), err)
	}
	return v
}

// Location is the tab's URL ("" when it cannot be read).
func (b *Browser) Location() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	return loc
}

// Open navigates to url and waits until sel is visible.
func (b *Browser) Open(url, sel string) {
	b.t.Helper()
	b.Do("open "+url, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(sel)))
}

// Text is the visible text of the first element matching the CSS selector.
func (b *Browser) Text(sel string) string {
	b.t.Helper()
	return Get(b, "read "+sel, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible))
}

// WaitText waits until the first element matching the CSS selector shows
// text containing want, polling the live page (no reload).
func (b *Browser) WaitText(sel, want string, limit time.Duration) {
	b.t.Helper()
	stop := time.Now().Add(limit)
	var got string
	for time.Now().Before(stop) {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		got, _ = chromedp.Run(ctx, chromedp.Evaluate[string](
			`(() => { const e = document.querySelector(`+jsString(sel)+`); return e ? e.innerText : "" })()`))
		cancel()
		if strings.Contains(got, want) {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	b.t.Fatalf("browser: %s never showed %q within %v; it shows %q", sel, want, limit, got)
}

// Count is how many elements match the CSS selector now.
func (b *Browser) Count(sel string) int {
	b.t.Helper()
	return Get(b, "count "+sel, chromedp.Evaluate[int](`document.querySelectorAll(`+jsString(sel)+`).length`))
}

func jsString(s string) string {
	q, _ := json.Marshal(s)
	return string(q)
}

// Violation is one axe-core rule a page breaks.
type Violation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		HTML string `json:"html"`
	} `json:"nodes"`
}

func (v Violation) String() string {
	var where []string
	for _, n := range v.Nodes {
		where = append(where, n.HTML)
	}
	return fmt.Sprintf("%s (%s): %s: %s", v.ID, v.Impact, v.Help, strings.Join(where, " | "))
}

var (
	axeOnce sync.Once
	axeSrc  string
	axeErr  error
)

// Axe checks the current page with axe-core against WCAG 2.1 A and AA and
// fails the test on any violation.
func (b *Browser) Axe(page string) {
	b.t.Helper()
	path := testenv.Need(b.t, "ORBIT_AXE_JS", "the accessibility checks load axe-core (make test installs it)")
	axeOnce.Do(func() {
		var raw []byte
		raw, axeErr = os.ReadFile(path)
		axeSrc = string(raw)
	})
	if axeErr != nil {
		b.t.Fatalf("browser: read axe-core: %v", axeErr)
	}
	b.Do("load axe-core", chromedp.Evaluate[chromedp.Void](axeSrc+";0"))
	vs := Get(b, "run axe-core on "+page, chromedp.Evaluate[[]Violation](
		`axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}).then(r => r.violations)`,
		chromedp.EvalAwaitPromise))
	for _, v := range vs {
		b.t.Errorf("accessibility of %s: %s", page, v)
	}
}

// Screenshot saves the whole page as ORBIT_SCREENSHOTS/name.png when that
// directory is set (make screenshots); otherwise it does nothing.
func (b *Browser) Screenshot(name string) {
	b.t.Helper()
	dir := os.Getenv("ORBIT_SCREENSHOTS")
	if dir == "" {
		return
	}
	png := Get(b, "screenshot "+name, chromedp.FullScreenshot(100))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}
