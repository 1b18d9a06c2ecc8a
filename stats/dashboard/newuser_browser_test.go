package dashboard_test

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/shortify/shortify/internal/apikey"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// longHost is a target whose host is longer than a phone is wide.
const longHost = "https://a-very-long-subdomain-name-that-a-phone-cannot-show-on-one-line.marketing-campaigns.example.com/landing"

// TestBrowserNewUser drives in headless Chromium what a new user hit on
// the pages (issue 17): on a 390 px phone the pages are no wider than the
// screen and the chart's labels at least 10 px; a long host wraps; times
// are local and readable; the chart has round y ticks, a title per bucket
// and a table of the same numbers, and a lone day's bar is visible; the
// human/bot toggle and the status card work; an unknown link shows a
// message instead of a broken QR image; Forget clears the data on screen;
// a viewer key is told it cannot create or save instead of getting a 403.
func TestBrowserNewUser(t *testing.T) {
	// Its own server, store and Chromium: it runs beside the others.
	t.Parallel()
	chromium := os.Getenv("SHORTIFY_CHROMIUM")
	if chromium == "" {
		chromium = testenv.Command(t, "chromium", "chromium")
	}
	keys := keyRing{}
	admin, viewer := keys.add(t, apikey.Admin, 0), keys.add(t, apikey.Viewer, 1)
	base, links := serveSmart(t, keys)
	if err := links.Create(t.Context(), linkstore.Link{ID: 402, Code: "long-host", WorkspaceID: 1, URL: longHost, CreatedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	ctx := newBrowser(t, chromium)
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("browser: %s: %v", what, err)
		}
	}
	num := func(what, expr string) float64 {
		t.Helper()
		return evaluate[float64](t, ctx, what, expr)
	}
	useKey := func(key string) {
		t.Helper()
		do("enter a key",
			chromedp.Navigate(base+"/dashboard/"),
			chromedp.WaitVisible(chromedp.CSS("body[data-ready]")),
			chromedp.SendKeys(chromedp.CSS("#api-key"), key),
			chromedp.Click(chromedp.CSS("#key-submit")),
			waitText("#key-state", "key set"),
		)
	}
	open := func(path string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		do("open "+path, append([]chromedp.Action[chromedp.Void]{
			chromedp.Navigate(base + path),
			chromedp.WaitVisible(chromedp.CSS("body[data-ready]")),
		}, steps...)...)
	}
	page := "/dashboard/links/" + smartCode

	// Forget on the overview: its top links and cards go too.
	useKey(admin)
	do("the overview", waitText("#top-links tbody", smartCode), waitText("#dim-country", "Netherlands"),
		chromedp.Click(chromedp.CSS("#forget-key")), waitText("#key-state", "no key"))
	for _, sel := range []string{"#top-links tbody", "#dims", "#chart"} {
		if s := textOf(t, ctx, sel); strings.TrimSpace(s) != "" {
			t.Errorf("after Forget the overview's %s still shows %q", sel, s)
		}
	}

	// The chart: round ticks, a title per bucket, a table, a visible bar.
	useKey(admin)
	open(page, waitText("#total-clicks", "9"), chromedp.WaitVisible(chromedp.CSS("#chart svg")))
	tickText, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#chart text.tick")].map((e) => e.textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	if len(tickText) < 3 {
		t.Errorf("y ticks %q, want several", tickText)
	}
	for i, v := range tickText {
		if want := fmt.Sprint(2 * i); v != want { // 9 clicks: 0, 2, 4, …, 10
			t.Errorf("tick %d is %q, want %q (ticks %q)", i, v, want, tickText)
		}
	}
	if got := num("hover titles", `document.querySelectorAll("#chart rect.hover > title").length`); got != 30 {
		t.Errorf("%v buckets with a title, want 30", got)
	}
	if got := num("table rows", `document.querySelectorAll("#chart table tbody tr").length`); got != 30 {
		t.Errorf("%v table rows, want 30", got)
	}
	if row := num("the day's row", `[...document.querySelectorAll("#chart table tbody tr")].filter((r) => r.cells[1].textContent === "9").length`); row != 1 {
		t.Errorf("%v table rows with the day's 9 clicks, want 1", row)
	}
	if w := num("bar width", `document.querySelector("#chart rect.humans").getBoundingClientRect().width`); w < 3 {
		t.Errorf("the day's bar is %v px wide", w)
	}
	if h := num("bar height", `document.querySelector("#chart rect.humans").getBoundingClientRect().height`); h < 2 {
		t.Errorf("the day's bar is %v px high", h)
	}

	// Local, readable times: no raw ISO on screen, the exact time on hover.
	do("wait for the link", waitText("#link-target", "example.com/smart"))
	created := textOf(t, ctx, "#link-created")
	if regexp.MustCompile(`\d{4}-\d\d-\d\dT|\d\d:\d\d:\d\d\.\d`).MatchString(created) || created == "" {
		t.Errorf("created shows as %q", created)
	}
	if _, err := time.Parse(time.RFC3339Nano, attrOf(t, ctx, "#link-created", "title")); err != nil {
		t.Errorf("created's title: %v", err)
	}

	// The status card, and the human/bot toggle (every click is a human's).
	do("status and traffic",
		waitText("#dim-status", "302"),
		chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector("#traffic"); s.value = "bot"; s.dispatchEvent(new Event("change")); })()`),
		waitText("#dim-country", "No clicks in this range."),
		chromedp.Poll[chromedp.Void](`document.querySelectorAll("#chart rect.humans").length === 0 && !!document.querySelector("#chart svg")`,
			chromedp.WithPollingInterval(50*time.Millisecond)),
	)

	// By hour: a row per hour, labelled with local times.
	do("by hour",
		chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector("#range"); s.value = "24h"; s.dispatchEvent(new Event("change")); })()`),
		waitText("#range-label", "last 24 hours"), idle(),
		chromedp.Poll[chromedp.Void](`document.querySelectorAll("#chart table tbody tr").length >= 24`, chromedp.WithPollingInterval(50*time.Millisecond)),
	)
	hour, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#chart table tbody tr th").textContent`))
	if err != nil {
		t.Fatal(err)
	}
	if got := hour; strings.Contains(got, "T") || !regexp.MustCompile(`\d:\d\d`).MatchString(got) {
		t.Errorf("an hour shows as %q", got)
	}

	// Forget: the key and everything it showed.
	do("forget", chromedp.Click(chromedp.CSS("#forget-key")), waitText("#key-state", "no key"))
	for _, sel := range []string{"#chart", "#dims", "#link-target", "#link-created", "#variant-list"} {
		if s := textOf(t, ctx, sel); strings.TrimSpace(s) != "" {
			t.Errorf("after Forget %s still shows %q", sel, s)
		}
	}
	if s := textOf(t, ctx, "#total-clicks"); s != "–" {
		t.Errorf("after Forget the clicks show %q", s)
	}
	if !hidden(t, ctx, "#qr") {
		t.Error("after Forget the QR code is still shown")
	}

	// An unknown link: a message, no broken image.
	useKey(admin)
	open("/dashboard/links/no-such-link", waitText("#qr-message", "no link has this code"))
	if !hidden(t, ctx, "#qr") || hidden(t, ctx, "#qr-message") {
		t.Error("an unknown link shows a QR image, or no message")
	}

	// A viewer key: the writing forms are off, and say why.
	useKey(viewer)
	do("the viewer's overview", waitText("#create-note", "role viewer"),
		chromedp.Poll[chromedp.Void](`document.querySelector("#create-submit").disabled`, chromedp.WithPollingInterval(50*time.Millisecond)))
	open(page, waitText("#smart-note", "role viewer"),
		chromedp.Poll[chromedp.Void](`document.querySelector("#smart-save").disabled`, chromedp.WithPollingInterval(50*time.Millisecond)))
	do("forget the viewer key", chromedp.Click(chromedp.CSS("#forget-key")), waitText("#key-state", "no key"))
	open("/dashboard/")
	if hidden(t, ctx, "#create-note") != true || num("create", `document.querySelector("#create-submit").disabled ? 1 : 0`) != 0 {
		t.Error("without a key the create form is still off")
	}

	// A phone: nothing wider than the screen, labels of 10 px or more.
	useKey(admin)
	do("a phone's viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	for _, p := range []struct{ path, shot string }{
		{"/dashboard/", "dashboard-phone-overview.png"},
		{page, "dashboard-phone-link.png"},
		{"/dashboard/links/long-host", ""},
	} {
		// Loaded: the chart drawn and the last card filled.
		open(p.path, chromedp.WaitVisible(chromedp.CSS("#chart svg")), chromedp.WaitVisible(chromedp.CSS("#dim-status li, #dim-status p")))
		if w := num("width", `document.documentElement.scrollWidth`); w > 390 {
			t.Errorf("%s on a 390 px phone is %v px wide", p.path, w)
		}
		// The label's font size as drawn: its CSS size times the SVG's scale.
		if px := num("label size", `(() => { const s = document.querySelector("#chart svg"), l = s.querySelector("text.label");
			return parseFloat(getComputedStyle(l).fontSize) * s.getBoundingClientRect().width / s.viewBox.baseVal.width; })()`); px < 10 {
			t.Errorf("%s: the chart's labels are %.1f px on a phone", p.path, px)
		}
		if p.shot == "" {
			continue
		}
		screenshot(t, ctx, p.shot)
	}
	do("the long host", waitText("#link-target", "marketing-campaigns"))
	if r := num("target's right edge", `document.querySelector("#link-target").getBoundingClientRect().right`); r > 390 {
		t.Errorf("the long host reaches %v px on a 390 px phone", r)
	}
}

// attrOf is the element's attribute.
func attrOf(t *testing.T, ctx context.Context, sel, name string) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`document.querySelector(%q).getAttribute(%q) || ""`, sel, name)))
	if err != nil {
		t.Fatalf("browser: %s's %s: %v", sel, name, err)
	}
	return v
}
