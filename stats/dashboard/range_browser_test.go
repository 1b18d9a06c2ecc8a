package dashboard_test

import (
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/shortify/shortify/internal/apikey"
	"github.com/shortify/shortify/internal/clickevents"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/internal/testkit/teststore"
)

// dayClicks are the clicks of the range test's link: n clicks from
// country at hour (UTC) of the UTC day days before today; hour -1 is the
// current hour.
var dayClicks = []struct {
	days, hour, n int
	country       string
}{
	{0, -1, 5, "JP"},
	{0, -1, 1, ""},
	{3, 12, 3, "DE"},
	{10, 12, 2, "US"},
	// Two UTC hours of one day that Tokyo (UTC+9) puts on two days:
	// 12:00 UTC is 21:00 there, 20:00 UTC the next day's 05:00.
	{40, 12, 2, "FR"},
	{40, 20, 2, "FR"},
}

const rangeCode = "days-link"

// serveDays serves the dashboard and the stats API over dayClicks.
func serveDays(t *testing.T, keys keyRing, requests *atomic.Int64) string {
	t.Helper()
	links := teststore.SQLite(t)
	now := time.Now().UTC()
	if err := links.Create(t.Context(), linkstore.Link{ID: 501, Code: rangeCode, WorkspaceID: 1, URL: "https://example.com/days", CreatedAt: now.AddDate(0, 0, -60)}); err != nil {
		t.Fatal(err)
	}
	var events []clickevents.Event
	for _, c := range dayClicks {
		at := now.Truncate(time.Hour)
		if c.hour >= 0 {
			at = now.Truncate(24*time.Hour).AddDate(0, 0, -c.days).Add(time.Duration(c.hour) * time.Hour)
		}
		for i := range c.n {
			events = append(events, clickevents.Event{Time: at, Code: rangeCode, LinkID: 501, Status: 302, Visitor: uint64(len(events) + i + 1),
				Country: c.country, UserAgent: "Mozilla/5.0 Firefox/140.0", Workspace: 1})
		}
	}
	stats := statsAPI(t, keys, links, events)
	counted := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/v1/stats/") && r.URL.Path != "/api/v1/stats/workspace" {
			requests.Add(1)
		}
		stats.ServeHTTP(w, r)
	})
	return serveDashboard(t, counted, nil)
}

// TestBrowserDateRange drives the statistics' date range and the
// countries card in headless Chromium, in Tokyo's time zone: the presets
// and custom dates change the totals, the chart's table and the
// countries; the range is in the URL and survives a reload (and opens
// from a shared URL, on a link's page too); a custom day is a local day,
// by hour; a range that is backwards or in the future is refused on the
// page without a request, and one the API refuses shows the API's words;
// the countries are ranked, with flags, names and shares; a 390 px phone
// shows all of it without overflow.
func TestBrowserDateRange(t *testing.T) {
	// Its own server, store and Chromium: it runs beside the others.
	t.Parallel()
	chromium := os.Getenv("SHORTIFY_CHROMIUM")
	if chromium == "" {
		chromium = testenv.Command(t, "chromium", "chromium")
	}
	keys := keyRing{}
	admin := keys.add(t, apikey.Admin, 0)
	var requests atomic.Int64
	base := serveDays(t, keys, &requests)
	ctx := newBrowser(t, chromium)
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			msg, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector("#message")?.textContent || "") + " / " + (document.querySelector("#range-error")?.textContent || "")`))
			t.Fatalf("browser: %s: %v (the page says %q)", what, err, msg)
		}
	}
	eval := func(what, expr string) string {
		t.Helper()
		return evaluate[string](t, ctx, what, expr)
	}
	if _, err := chromedp.Call(ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Asia/Tokyo"}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, emulation.SetLocaleOverride, emulation.SetLocaleOverrideParams{Locale: "en-US"}); err != nil {
		t.Fatal(err)
	}
	// loaded waits for a load to finish (the page no longer busy, every
	// card filled) with want clicks in the totals ("": any number).
	loaded := func(want string) chromedp.Action[chromedp.Void] {
		return chromedp.Poll[chromedp.Void](fmt.Sprintf(`!document.querySelector("#page[aria-busy]") && `+
			`(%q === "" ? /^[0-9]/.test(document.querySelector("#total-clicks").textContent) : document.querySelector("#total-clicks").textContent === %q) && `+
			`document.querySelectorAll("#dims section").length === 6 && [...document.querySelectorAll("#dims section")].every((s) => s.querySelector("ol, p"))`, want, want),
			chromedp.WithPollingInterval(50*time.Millisecond))
	}
	num := func(what, expr string) float64 {
		t.Helper()
		return evaluate[float64](t, ctx, what, expr)
	}
	rows := func() string {
		return eval("rows", `String(document.querySelectorAll("#chart table tbody tr").length)`)
	}
	pick := func(preset, label, total, wantRows string) {
		t.Helper()
		do("pick "+preset,
			chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const s = document.querySelector("#range"); s.value = %q; s.dispatchEvent(new Event("change")); })()`, preset)),
			waitText("#range-label", label), loaded(total))
		if got := rows(); wantRows != "" && got != wantRows {
			t.Errorf("%s: %s rows in the chart's table, want %s", preset, got, wantRows)
		}
		if q := eval("query", `location.search`); !strings.Contains(q, "range="+preset) {
			t.Errorf("%s: the URL's query is %q", preset, q)
		}
	}
	custom := func(from, to string) {
		t.Helper()
		do("custom "+from+" to "+to,
			chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector("#range"); s.value = "custom"; s.dispatchEvent(new Event("change")); })()`),
			chromedp.WaitVisible(chromedp.CSS("#range-custom")),
			chromedp.SetValue(chromedp.CSS("#range-from"), from),
			chromedp.SetValue(chromedp.CSS("#range-to"), to),
			chromedp.Click(chromedp.CSS("#range-apply")))
	}
	countries := func() []string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#dim-country li")].map((li) =>
			li.querySelector(".flag").textContent + "|" + li.querySelector(".name").textContent + "|" + li.querySelector(".count").textContent + "|" + li.querySelector(".share").textContent)`))
		if err != nil {
			t.Fatalf("browser: the countries: %v", err)
		}
		return v
	}
	day := func(days int) string { return time.Now().UTC().AddDate(0, 0, -days).Format(time.DateOnly) }

	do("enter the key",
		chromedp.Navigate(base+"/dashboard/"),
		chromedp.WaitVisible(chromedp.CSS("body[data-ready]")),
		chromedp.SendKeys(chromedp.CSS("#api-key"), admin),
		chromedp.Click(chromedp.CSS("#key-submit")),
		waitText("#key-state", "key set"),
		waitText("#range-label", "last 30 days"), loaded("11"))

	// The presets: the totals, the buckets and the countries follow.
	pick("7d", "last 7 days", "9", "7")
	if got := eval("the day's row", `[...document.querySelectorAll("#chart table tbody tr")].filter((r) => r.cells[1].textContent === "3").length + ""`); got != "1" {
		t.Errorf("7 days: %s rows with the 3 clicks of 3 days ago, want 1", got)
	}
	pick("24h", "last 24 hours", "6", "24")
	pick("90d", "last 90 days", "15", "90")
	want := []string{"🇯🇵|Japan|5|33%", "🇫🇷|France|4|27%", "🇩🇪|Germany|3|20%", "🇺🇸|United States|2|13%", "|unknown|1|6.7%"}
	if got := countries(); !slices.Equal(got, want) {
		t.Errorf("90 days' countries %q, want %q", got, want)
	}
	if w := eval("Japan's bar", `document.querySelector("#dim-country li .fill").style.width`); w != "33.33%" {
		t.Errorf("Japan's share bar is %s wide", w)
	}
	screenshot(t, ctx, "dashboard-range.png")
	pick("30d", "last 30 days", "11", "30")
	if got := countries(); len(got) != 4 || slices.ContainsFunc(got, func(s string) bool { return strings.Contains(s, "France") }) {
		t.Errorf("30 days' countries %q, want no France (its clicks are 40 days old)", got)
	}
	pick("month", "this month", "", "")

	// A reload keeps the range.
	pick("7d", "last 7 days", "9", "7")
	do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("body[data-ready]")), waitText("#range-label", "last 7 days"), loaded("9"))
	if v := eval("the preset", `document.querySelector("#range").value`); v != "7d" {
		t.Errorf("after a reload the range is %q", v)
	}

	// Custom days of Tokyo's calendar: one day is 24 local hours, two
	// days 48; more are UTC days.
	d := day(40)
	custom(d, d)
	do("one local day", waitText("#range-note", "Asia/Tokyo"), loaded("2"))
	if got := rows(); got != "24" {
		t.Errorf("one day: %s rows, want 24 hours", got)
	}
	if got := eval("the first hour", `document.querySelector("#chart table tbody tr th").textContent`); !strings.Contains(got, "12:00") || !strings.Contains(got, "AM") {
		t.Errorf("the day's first hour shows as %q, want its local midnight", got)
	}
	custom(d, day(39))
	do("two local days", loaded("4"))
	if got := rows(); got != "48" {
		t.Errorf("two days: %s rows, want 48 hours", got)
	}
	custom(day(45), day(35))
	do("eleven days", waitText("#range-note", "UTC days"), loaded("4"))
	if got := rows(); got != "11" {
		t.Errorf("eleven days: %s rows", got)
	}
	if q := eval("query", `location.search`); q != "?range=custom&from="+day(45)+"&to="+day(35) {
		t.Errorf("the custom range's query is %q", q)
	}
	do("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("body[data-ready]")), loaded("4"))
	if from, to := eval("from", `document.querySelector("#range-from").value`), eval("to", `document.querySelector("#range-to").value`); from != day(45) || to != day(35) || hidden(t, ctx, "#range-custom") {
		t.Errorf("after a reload the custom range is %s to %s (shown: %v)", from, to, !hidden(t, ctx, "#range-custom"))
	}

	// Bad ranges: refused on the page, nothing asked, the URL as it was.
	asked := requests.Load()
	custom(day(3), day(5))
	do("backwards", waitText("#range-error", "is after To"))
	custom(day(3), day(-2))
	do("future", waitText("#range-error", "is in the future"))
	if n := requests.Load(); n != asked {
		t.Errorf("the refused ranges made %d requests", n-asked)
	}
	if q := eval("query", `location.search`); !strings.Contains(q, "from="+day(45)) || eval("total", `document.querySelector("#total-clicks").textContent`) != "4" {
		t.Errorf("after refused ranges the URL is %q and the totals changed", q)
	}
	if got := eval("invalid", `document.querySelector("#range-to").getAttribute("aria-invalid")`); got == "" {
		t.Error("the future To is not marked invalid")
	}
	// One the API refuses: more than 1,000 days. Its words, nothing else.
	custom("2020-01-01", day(1))
	do("too long", waitText("#range-error", "at most 1000"), waitText("#range-error", "refused"),
		chromedp.Poll[chromedp.Void](`document.querySelector("#total-clicks").textContent === "–" && !document.querySelector("#chart svg")`,
			chromedp.WithPollingInterval(50*time.Millisecond)))
	// A shared URL opens with its range, the bad one too (no request).
	asked = requests.Load()
	do("a shared backwards URL",
		chromedp.Navigate(base+"/dashboard/?range=custom&from="+day(1)+"&to="+day(2)),
		chromedp.WaitVisible(chromedp.CSS("body[data-ready]")), waitText("#range-error", "is after To"))
	// One with markup for a date: words, not elements.
	do("a shared URL with markup",
		chromedp.Navigate(base+"/dashboard/?range=custom&from=%3Cimg%20src%3Dx%20onerror%3Dwindow.pwned%3D1%3E&to="+day(1)),
		chromedp.WaitVisible(chromedp.CSS("body[data-ready]")), waitText("#range-error", `From “<img src=x onerror=window.pwned=1>” is not a date`))
	if n := evaluate[int](t, ctx, "injected", `document.querySelectorAll("main img:not(#qr), [onerror]").length + (window.pwned ? 1 : 0)`); n != 0 {
		t.Errorf("a date with markup made %d elements or ran", n)
	}
	if n := requests.Load(); n != asked {
		t.Errorf("shared bad ranges made %d requests", n-asked)
	}

	// The human/bot toggle is in the URL too.
	do("humans only, reloaded",
		chromedp.Navigate(base+"/dashboard/?range=7d"),
		chromedp.WaitVisible(chromedp.CSS("body[data-ready]")), loaded("9"),
		chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector("#traffic"); s.value = "human"; s.dispatchEvent(new Event("change")); })()`),
		chromedp.Poll[chromedp.Void](`location.search === "?range=7d&traffic=human"`, chromedp.WithPollingInterval(50*time.Millisecond)),
		chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("body[data-ready]")), loaded("9"))
	if v := eval("the toggle", `document.querySelector("#traffic").value`); v != "human" {
		t.Errorf("after a reload the toggle is %q", v)
	}

	// A link's page, opened from a shared URL with a range.
	do("the link's page",
		chromedp.Navigate(base+"/dashboard/links/"+rangeCode+"?range=90d"),
		chromedp.WaitVisible(chromedp.CSS("body[data-ready]")),
		waitText("#range-label", "last 90 days"), loaded("15"))
	if got := countries(); !slices.Equal(got, want) {
		t.Errorf("the link's countries %q, want %q", got, want)
	}
	pick("7d", "last 7 days", "9", "7")

	// A phone: the custom form and the countries fit.
	do("a phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
		chromedp.Navigate(base+"/dashboard/?range=custom&from="+day(89)+"&to="+day(0)),
		chromedp.WaitVisible(chromedp.CSS("body[data-ready]")), loaded("15"), chromedp.WaitVisible(chromedp.CSS("#chart svg")))
	if w := num("width", `document.documentElement.scrollWidth`); w > 390 {
		t.Errorf("the overview with a custom range on a 390 px phone is %v px wide", w)
	}
	if r := num("right", `Math.max(...[...document.querySelectorAll("#range-custom *, #dim-country *")].map((e) => e.getBoundingClientRect().right))`); r > 390 {
		t.Errorf("the range form or the countries reach %v px on a 390 px phone", r)
	}
	screenshot(t, ctx, "dashboard-phone-range.png")
	do("a link's page on a phone",
		chromedp.Navigate(base+"/dashboard/links/"+rangeCode+"?range=custom&from="+day(89)+"&to="+day(0)),
		chromedp.WaitVisible(chromedp.CSS("body[data-ready]")), loaded("15"), chromedp.WaitVisible(chromedp.CSS("#range-custom")))
	if w := num("width", `document.documentElement.scrollWidth`); w > 390 {
		t.Errorf("a link's page with a custom range on a 390 px phone is %v px wide", w)
	}
}
