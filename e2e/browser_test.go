package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/shortify/shortify/internal/testkit/testenv"
)

// TestBrowserDashboard drives the dashboard in headless Chromium (Debian's
// chromium package, through chromedp) against the built binary started
// like `make run`: it enters the API key, creates a link through the form,
// follows the short link, and waits for the click on the link's page; then
// it creates a link whose target holds a <script> element and checks that
// the link's page shows it as text and runs nothing. Screenshots of the
// overview and the link page go to $SHORTIFY_TEST_ARTIFACTS (default: the
// test's temporary directory; the log names it).
func TestBrowserDashboard(t *testing.T) {
	chromium := ensureChromium(t)
	artifacts := os.Getenv("SHORTIFY_TEST_ARTIFACTS")
	if artifacts == "" {
		artifacts = t.TempDir()
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}

	s := start(t) // the repository's Caddyfile runs the whole click pipeline
	// The link targets: a page on "localhost", so that the control plane
	// (reached at 127.0.0.1, its own host) accepts it as a foreign site.
	landing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><title>landing</title><p id="landed">landed</p>`)
	}))
	t.Cleanup(landing.Close)
	landingURL := strings.Replace(landing.URL, "127.0.0.1", "localhost", 1)

	ctx := newBrowser(t, chromium, 5*time.Minute, chromedp.WindowSize(1200, 1000))
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("browser: %s: %v\nshortify logs:\n%s", what, err, s.logs.String())
		}
	}
	text := func(sel string) string { return value(t, ctx, sel, chromedp.Text(chromedp.CSS(sel))) }
	attr := func(sel, name string) string {
		return value(t, ctx, sel+"["+name+"]", chromedp.AttributeValue(chromedp.CSS(sel), name)).Value
	}
	screenshot := func(name string) {
		t.Helper()
		png := value(t, ctx, "screenshot "+name, chromedp.FullScreenshot(100)) // 100: PNG (below it, JPEG)
		path := filepath.Join(artifacts, name)
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", path)
	}

	// The overview, with the key entered in its form.
	do("open the overview and enter the key",
		chromedp.Navigate(s.base+"/dashboard/"),
		chromedp.WaitVisible(chromedp.CSS("body[data-ready]")),
		chromedp.SendKeys(chromedp.CSS("#api-key"), s.key),
		chromedp.Click(chromedp.CSS("#key-submit")), // a click fires the submit event, which form.submit() skips
		waitText("#key-state", "key set"),
		// The initial key is an instance admin's: every workspace, with the
		// default workspace to pick (the app's registry, through the stats
		// handler; stats/dashboard's browser test covers workspace keys).
		waitText("#workspace-name", "instance admin: all workspaces"),
		waitText("#workspace-pick", "default (ID 1)"),
	)

	// Create a link through the form and follow it.
	do("create a link through the form",
		chromedp.SendKeys(chromedp.CSS("#create-url"), landingURL+"/page"),
		chromedp.Click(chromedp.CSS("#create-submit")),
		chromedp.WaitVisible(chromedp.CSS("#created")),
	)
	shortURL, statsHref := text("#created-link"), attr("#created-stats", "href")
	if !strings.HasPrefix(shortURL, s.base+"/") || !strings.HasPrefix(statsHref, "/dashboard/links/") {
		t.Fatalf("created: short URL %q, statistics at %q", shortURL, statsHref)
	}
	code := strings.TrimPrefix(shortURL, s.base+"/")
	do("follow the short link",
		chromedp.Click(chromedp.CSS("#created-link")),
		chromedp.WaitVisible(chromedp.CSS("#landed")),
	)
	if landed := value(t, ctx, "location", chromedp.Location()); landed != landingURL+"/page" {
		t.Fatalf("the short link led to %q, want %q", landed, landingURL+"/page")
	}

	// The link's page counts the click once the pipeline (edge -> Kafka ->
	// stats ingest -> aggregates) has carried it.
	do("open the link's page", chromedp.Navigate(s.base+statsHref), chromedp.WaitVisible(chromedp.CSS("body[data-ready]")), waitText("#link-code", code))
	deadline := time.Now().Add(30 * time.Second)
	for {
		do("reload the link's page", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#chart svg")))
		clicks := text("#total-clicks")
		if clicks == "1" {
			break
		}
		if time.Now().After(deadline) {
			resp, body := s.request("GET", "/api/v1/stats/links/"+code, "")
			t.Fatalf("the link's page shows %q clicks 30 s after the click, want 1 (the stats API answers %d %s)", clicks, resp.StatusCode, body)
		}
		do("wait a moment", chromedp.Sleep(250*time.Millisecond))
	}
	do("wait for the QR code", waitAttrPrefix("#qr", "src", "data:image/png;base64,"))
	if target := text("#link-target"); target != landingURL+"/page" {
		t.Errorf("the link's page shows target %q", target)
	}
	screenshot("dashboard-link.png")

	// A target with a <script> element shows as text and runs nothing.
	evil := landingURL + "/x?q=<script>window.pwned=1</script><img/src=x/onerror=window.pwned=2>"
	do("create the link with a <script> target",
		chromedp.Navigate(s.base+"/dashboard/"),
		chromedp.WaitVisible(chromedp.CSS("body[data-ready]")),
		chromedp.SendKeys(chromedp.CSS("#create-url"), evil),
		chromedp.Click(chromedp.CSS("#create-submit")),
		chromedp.WaitVisible(chromedp.CSS("#created")),
	)
	createdTarget := text("#created-target")
	evilCode := strings.TrimPrefix(attr("#created-stats", "href"), "/dashboard/links/")
	resp, body := s.request("GET", "/api/v1/links/"+evilCode, "")
	var stored link
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &stored) != nil || !strings.Contains(stored.URL, "<script>") {
		t.Fatalf("the <script> link: %d %s", resp.StatusCode, body)
	}
	if createdTarget != stored.URL {
		t.Errorf("the overview shows the new target as %q, want %q", createdTarget, stored.URL)
	}
	do("open the <script> link's page",
		chromedp.Navigate(s.base+"/dashboard/links/"+url.PathEscape(evilCode)),
		chromedp.WaitVisible(chromedp.CSS("body[data-ready]")),
		waitText("#link-target", "<script>"),
	)
	shown := text("#link-target")
	pwned := value(t, ctx, "window.pwned", chromedp.Evaluate[int](`window.pwned === undefined ? 0 : window.pwned`))
	scripts := value(t, ctx, "scripts", chromedp.Evaluate[int](`document.querySelectorAll("script").length`))
	inside := value(t, ctx, "elements in the target", chromedp.Evaluate[int](`document.querySelectorAll("#link-target *").length`))
	if shown != stored.URL || pwned != 0 || scripts != 1 || inside != 0 {
		t.Errorf("the <script> target: shown %q (want %q), window.pwned %d, %d scripts, %d elements inside the target", shown, stored.URL, pwned, scripts, inside)
	}

	do("open the overview", chromedp.Navigate(s.base+"/dashboard/"), chromedp.WaitVisible(chromedp.CSS("#chart svg")))
	do("wait for the top links", waitText("#top-links", code))
	screenshot("dashboard-overview.png")
}

// newBrowser starts a headless Chromium for the test, stopped when it
// ends, and returns its context, bounded by within.
func newBrowser(t *testing.T, chromium string, within time.Duration, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox, // tests may run as root, where the sandbox refuses to start
		chromedp.Flag("disable-dev-shm-usage", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append(opts, extra...)...)
	t.Cleanup(cancelAlloc)
	ctx, cancelCtx := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(cancelCtx)
	ctx, cancel := context.WithTimeout(ctx, within)
	t.Cleanup(cancel)
	return ctx
}

// value runs an action that returns a value, failing the test on error.
func value[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("browser: %s: %v", what, err)
	}
	return v
}

// waitText waits until the element's text contains want.
func waitText(sel, want string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](fmt.Sprintf(`(document.querySelector(%q)?.textContent || "").includes(%q)`, sel, want),
		chromedp.WithPollingInterval(50*time.Millisecond))
}

// waitAttrPrefix waits until the element's attribute starts with prefix.
func waitAttrPrefix(sel, attr, prefix string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](fmt.Sprintf(`(document.querySelector(%q)?.getAttribute(%q) || "").startsWith(%q)`, sel, attr, prefix),
		chromedp.WithPollingInterval(50*time.Millisecond))
}

// ensureChromium returns the Chromium to drive: $SHORTIFY_CHROMIUM, or
// chromium on PATH, installed from Debian's package when missing.
func ensureChromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("SHORTIFY_CHROMIUM"); p != "" {
		return p
	}
	return testenv.Command(t, "chromium", "chromium")
}
