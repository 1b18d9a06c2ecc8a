package dashboard_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	cpapi "github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/internal/apikey"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/problem"
	"github.com/shortify/shortify/internal/testkit/apitest"
	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/internal/testkit/teststore"
)

// seedLinks is how many links on its own host workspace acme starts
// with: more than one page of the links page (25). Besides them it has
// seed-01 on its custom domain (acmeDomain), its oldest link.
const seedLinks = 30

// acmeDomain is workspace acme's custom domain.
const acmeDomain = "go.acme.example"

// linksSite is the links page's test server (serveDashboard): the
// dashboard, the control plane's API (with a real issuer, so the page
// creates links) and the stats API (which tells the page the key's role),
// over one SQLite link store, and the keys of workspaces acme and other.
type linksSite struct {
	url                          string
	links                        linkstore.Store
	acme, acmeViewer, otherMaker string
	admin                        string // an instance admin
}

// serveLinks starts linksSite: acme holds seed-01 … seed-30 (every one
// tagged "seed", the odd ones "odd" too), seed-05 with 1,234 clicks
// (1,000 of humans), seed-12 with 40 (31), the domain's seed-01 with 7
// (0), the others none; other holds other-secret, tagged "seed" and
// "launch" as acme's links will be. wrap, when not nil, wraps the control
// plane's API.
func serveLinks(t *testing.T, wrap func(http.Handler) http.Handler) *linksSite {
	t.Helper()
	reg := apitest.NewRegistry()
	acmeID, otherID := reg.MustWorkspace(t, "acme"), reg.MustWorkspace(t, "other")
	if acmeID != 2 || otherID != 3 {
		t.Fatalf("workspaces %d and %d, want 2 and 3 (wsList)", acmeID, otherID)
	}
	links := teststore.SQLite(t)
	start := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	for i := 1; i <= seedLinks; i++ {
		tags := []string{"seed"}
		if i%2 == 1 {
			tags = append(tags, "odd")
		}
		l := linkstore.Link{ID: int64(1000 + i), Code: fmt.Sprintf("seed-%02d", i), WorkspaceID: acmeID, URL: fmt.Sprintf("https://example.com/seed/%d", i),
			CreatedAt: start.Add(time.Duration(i) * time.Minute), Title: fmt.Sprintf("Seed %d", i), Tags: tags}
		if err := links.Create(t.Context(), l); err != nil {
			t.Fatal(err)
		}
	}
	if err := links.Create(t.Context(), linkstore.Link{ID: 999, Code: "seed-01", Domain: acmeDomain, WorkspaceID: acmeID, URL: "https://example.com/domain",
		CreatedAt: start, Title: "On acme's domain"}); err != nil {
		t.Fatal(err)
	}
	if err := links.Create(t.Context(), linkstore.Link{ID: 2000, Code: "other-secret", WorkspaceID: otherID, URL: "https://example.org/secret",
		CreatedAt: start, Title: "Other's launch", Tags: []string{"launch", "seed"}}); err != nil {
		t.Fatal(err)
	}
	cp, err := cpapi.New(cpapi.Config{PublicURL: "https://sho.test", Logger: slog.New(slog.DiscardHandler)},
		reg.Deps(cpapi.Deps{Store: links, Issuer: apitest.NewIssuer(t)}))
	if err != nil {
		t.Fatal(err)
	}
	// Click totals as the leader's job writes them: three links counted,
	// the others at 0.
	if n, err := links.SetClicks(t.Context(), []linkstore.ClickTotal{{LinkID: 1005, Code: "seed-05", Clicks: 1234, Humans: 1000},
		{LinkID: 1012, Code: "seed-12", Clicks: 40, Humans: 31}, {LinkID: 999, Code: "seed-01", Clicks: 7}}); err != nil || n != 3 {
		t.Fatalf("SetClicks: %d, %v", n, err)
	}
	// The stats API over an empty database: the page asks it only for
	// the key's role.
	var h http.Handler = cp
	if wrap != nil {
		h = wrap(cp)
	}
	url := serveDashboard(t, statsAPI(t, reg, links, nil), h)
	return &linksSite{url: url, links: links, acme: reg.Mint(t, apikey.Creator, acmeID),
		acmeViewer: reg.Mint(t, apikey.Viewer, acmeID), otherMaker: reg.Mint(t, apikey.Creator, otherID), admin: reg.Mint(t, apikey.Admin, 0)}
}

// TestBrowserLinksPage drives the links page in headless Chromium: a
// workspace's links newest first over two pages; a create with every
// kind of field (tags, expiry, redirect status, smart options) stored as
// typed; the API's refusals shown next to the input of the field they
// name, storing nothing; a hostile title, tag and URL shown as text;
// search, the tag filter (every tag picked must match), edit, disable and
// enable, the QR code, copy, and delete after a confirmation; a link on
// a custom domain beside the same code on the own host; a viewer key
// finds the writing buttons off and is told why; another workspace's key
// sees none of the links; an instance admin sees each link's workspace;
// a 390 px phone shows the page and the editor no wider than the screen. Screenshots go to
// $SHORTIFY_TEST_ARTIFACTS (docs/ keeps dashboard-links*.png).
func TestBrowserLinksPage(t *testing.T) {
	// Its own server, store and Chromium: it runs beside the others.
	t.Parallel()
	chromium := os.Getenv("SHORTIFY_CHROMIUM")
	if chromium == "" {
		chromium = testenv.Command(t, "chromium", "chromium")
	}
	site := serveLinks(t, nil)
	ctx := newBrowser(t, chromium)
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("browser: %s: %v", what, err)
		}
	}
	eval := func(what, expr string) {
		t.Helper()
		do(what, chromedp.Evaluate[chromedp.Void](expr))
	}
	codes := func() []string {
		t.Helper()
		return evaluate[[]string](t, ctx, "the rows", `[...document.querySelectorAll("#lk-list > li")].map((li) => li.dataset.code)`)
	}
	// rows waits until the list holds n rows and nothing is loading.
	rows := func(n int) chromedp.Action[chromedp.Void] {
		return chromedp.Poll[chromedp.Void](fmt.Sprintf(`document.querySelectorAll("#lk-list > li").length === %d && document.querySelector("#lk-summary").textContent !== "Loading…"`, n),
			chromedp.WithPollingInterval(50*time.Millisecond))
	}
	lookup := func(code string) linkstore.Link {
		t.Helper()
		l, err := site.links.Lookup(t.Context(), "", code)
		if err != nil {
			t.Fatalf("lookup %s: %v", code, err)
		}
		return l
	}
	// The viewport, not the whole page: what a person sees (and the open
	// dialog over it).
	shot := func(name string) {
		t.Helper()
		viewportScreenshot(t, ctx, name)
	}
	page := site.url + "/dashboard/links"
	useKey := func(key string) {
		t.Helper()
		do("enter a key",
			chromedp.Navigate(page),
			chromedp.WaitVisible(chromedp.CSS("body[data-ready]")),
			chromedp.SendKeys(chromedp.CSS("#api-key"), key),
			chromedp.Click(chromedp.CSS("#key-submit")),
			waitText("#key-state", "key set"),
		)
	}
	row := func(code, sel string) chromedp.CSS {
		return chromedp.CSS(fmt.Sprintf(`#lk-list li[data-code=%q] %s`, code, sel))
	}

	// Newest first, 25 to a page, "More" for the rest; only acme's.
	useKey(site.acme)
	do("the first page", rows(25), chromedp.WaitVisible(chromedp.CSS("#lk-more")), waitText("#workspace-name", "acme (ID 2)"))
	if got := codes(); got[0] != "seed-30" || got[24] != "seed-06" {
		t.Errorf("first page %q, want seed-30 … seed-06", got)
	}
	do("the second page", chromedp.Click(chromedp.CSS("#lk-more")), rows(seedLinks+1))
	if got := codes(); got[seedLinks-1] != "seed-01" || got[seedLinks] != "seed-01" || slices.Contains(got, "other-secret") || !hidden(t, ctx, "#lk-more") {
		t.Errorf("both pages %q (more hidden: %v)", got, hidden(t, ctx, "#lk-more"))
	}

	// The link on the custom domain: its own row, stats page, QR code
	// and writes (?domain=), the same code on the own host untouched.
	onDomain := chromedp.CSS(fmt.Sprintf(`#lk-list li[data-domain=%q]`, acmeDomain))
	if got := attrOf(t, ctx, string(onDomain)+" .lk-stats", "href"); got != "/dashboard/links/seed-01?domain="+acmeDomain {
		t.Errorf("the domain link's stats page is %q", got)
	}
	do("the domain link's QR code and disable",
		chromedp.Click(onDomain+" .lk-qr-toggle"), chromedp.WaitVisible(onDomain+" .lk-qr img"),
		chromedp.Click(onDomain+" .lk-toggle"), waitText(string(onDomain)+" .lk-toggle", "Enable"))
	if l, err := site.links.Lookup(t.Context(), acmeDomain, "seed-01"); err != nil || !l.Disabled {
		t.Errorf("the domain link after Disable: %+v, %v", l, err)
	}
	if lookup("seed-01").Disabled {
		t.Error("Disable on the domain link disabled seed-01 on the own host")
	}
	clicks := map[string]string{`#lk-list li[data-code="seed-05"]:not([data-domain]) .lk-clicks`: "1,234 clicks\n1,000 humans",
		`#lk-list li[data-code="seed-12"] .lk-clicks`: "40 clicks\n31 humans", string(onDomain) + " .lk-clicks": "7 clicks\n0 humans",
		`#lk-list li[data-code="seed-30"] .lk-clicks`: "0 clicks\n0 humans"}
	for sel, want := range clicks {
		if got := textOf(t, ctx, sel); got != want {
			t.Errorf("%s shows %q, want %q", sel, got, want)
		}
	}

	// A create with every kind of field.
	expires := time.Now().Add(72 * time.Hour).Truncate(time.Minute)
	do("create a link",
		chromedp.Click(chromedp.CSS("#lk-new")),
		chromedp.WaitVisible(chromedp.CSS("#lk-f-url")),
		chromedp.SendKeys(chromedp.CSS("#lk-f-url"), "https://example.com/launch"),
		chromedp.SendKeys(chromedp.CSS("#lk-f-alias"), "launch-day"),
		chromedp.SendKeys(chromedp.CSS("#lk-f-title"), "Launch day"),
		chromedp.SendKeys(chromedp.CSS("#lk-f-tags"), "launch, q3"),
		chromedp.SendKeys(chromedp.CSS("#lk-f-notes"), "for the press"),
		chromedp.SetValue(chromedp.CSS("#lk-f-expires"), expires.Local().Format("2006-01-02T15:04")),
		chromedp.SetValue(chromedp.CSS("#lk-f-status"), "301"),
		chromedp.Click(chromedp.CSS("#lk-smart > summary")),
		chromedp.SendKeys(chromedp.CSS("#lk-f-max-clicks"), "100"),
		chromedp.SendKeys(chromedp.CSS("#lk-f-utm-source"), "mail"),
		chromedp.Click(chromedp.CSS("#lk-save")),
		rows(25), // the list reloads: its first page
		chromedp.WaitVisible(row("launch-day", ".lk-title")),
	)
	if got := codes(); got[0] != "launch-day" {
		t.Errorf("after the create the list starts %q", got[:3])
	}
	created := lookup("launch-day")
	if created.Title != "Launch day" || !slices.Equal(created.Tags, []string{"launch", "q3"}) || created.Notes != "for the press" ||
		created.Status != 301 || created.Smart.MaxClicks != 100 || !created.ExpiresAt.Equal(expires) ||
		!strings.Contains(created.URL, "utm_source=mail") || created.WorkspaceID != 2 {
		t.Errorf("stored %+v", created)
	}
	if got := textOf(t, ctx, `#lk-list li[data-code="launch-day"]`); !strings.Contains(got, "launch") || !strings.Contains(got, "q3") || !strings.Contains(got, "max 100 clicks") {
		t.Errorf("the new row says %q", got)
	}

	// Refusals: next to the field's input, nothing stored.
	do("a refused alias",
		chromedp.Click(chromedp.CSS("#lk-new")),
		chromedp.SendKeys(chromedp.CSS("#lk-f-url"), "https://example.com/x"),
		chromedp.SendKeys(chromedp.CSS("#lk-f-alias"), "ab"),
		chromedp.Click(chromedp.CSS("#lk-save")),
		chromedp.WaitVisible(chromedp.CSS(`#lk-f-alias[aria-invalid="true"] ~ .lk-field-error[data-field="alias"]`)),
	)
	do("a refused rule",
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#lk-f-alias").value = ""; document.querySelector("#lk-f-rules").value = '[{"when": {"colour": ["red"]}, "url": "https://x.example.com/"}]'`),
		chromedp.Click(chromedp.CSS("#lk-save")),
		chromedp.WaitVisible(chromedp.CSS(`#lk-f-rules[aria-invalid="true"] ~ .lk-field-error[data-field="rules[0].when.colour"]`)),
	)
	if !hidden(t, ctx, "#lk-form-error") || strings.Count(textOf(t, ctx, "#lk-form"), "colour") < 1 {
		t.Error("the rule's refusal is not next to the rules")
	}
	if _, err := site.links.Lookup(t.Context(), "", "ab"); !errors.Is(err, linkstore.ErrNotFound) {
		t.Errorf("a refused alias: %v", err)
	}
	do("cancel", chromedp.Click(chromedp.CSS("#lk-cancel")), chromedp.WaitNotVisible(chromedp.CSS("#lk-editor")))
	if got := codes(); len(got) != 25 || got[0] != "launch-day" {
		t.Errorf("after the refusals the list is %q", got)
	}

	// Hostile values: text on screen, nothing run.
	do("a hostile link",
		chromedp.Click(chromedp.CSS("#lk-new")),
		chromedp.SendKeys(chromedp.CSS("#lk-f-url"), "https://example.com/?q=<script>window.pwned=3</script>"),
		chromedp.SendKeys(chromedp.CSS("#lk-f-alias"), "hostile"),
		chromedp.SendKeys(chromedp.CSS("#lk-f-title"), `<img src=x onerror="window.pwned=1">`),
		chromedp.SendKeys(chromedp.CSS("#lk-f-tags"), "<b>bold</b>, <script>window.pwned=2</script>"),
		chromedp.Click(chromedp.CSS("#lk-save")),
		chromedp.WaitVisible(row("hostile", ".lk-title")),
	)
	if got := textOf(t, ctx, `#lk-list li[data-code="hostile"]`); !strings.Contains(got, `<img src=x onerror="window.pwned=1">`) ||
		!strings.Contains(got, "<b>bold</b>") || !strings.Contains(got, "<script>window.pwned=2</script>") {
		t.Errorf("the hostile row shows %q", got)
	}
	if got := textOf(t, ctx, "#lk-tagbar"); !strings.Contains(got, "<script>window.pwned=2</script>") {
		t.Errorf("the hostile tag's chip shows %q", got)
	}
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#lk-list img, #lk-list script, #lk-list b, #lk-tagbar b, #lk-tagbar script").length + (window.pwned ? 100 : 0)`)); err != nil || n != 0 {
		t.Errorf("hostile markup became elements or ran: %d, %v", n, err)
	}

	// An external ID: stored and shown by a control plane that has them;
	// one from before refuses the field, next to its input.
	do("an external ID",
		chromedp.Click(chromedp.CSS("#lk-new")),
		chromedp.SendKeys(chromedp.CSS("#lk-f-url"), "https://example.com/crm"),
		chromedp.SendKeys(chromedp.CSS("#lk-f-alias"), "crm-link"),
		chromedp.SendKeys(chromedp.CSS("#lk-f-external-id"), "crm-42"),
		chromedp.Click(chromedp.CSS("#lk-save")),
		chromedp.Poll[chromedp.Void](`(document.querySelector('#lk-list li[data-code="crm-link"] .lk-external-id')?.textContent === "crm-42") ||
			!!document.querySelector('#lk-f-external-id[aria-invalid="true"] ~ .lk-field-error[data-field="external_id"]')`, chromedp.WithPollingInterval(50*time.Millisecond)),
	)
	if v, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("#lk-editor").open`)); err == nil && v {
		t.Logf("this control plane refuses external_id: %s", textOf(t, ctx, "#lk-form .lk-field-error"))
		do("cancel", chromedp.Click(chromedp.CSS("#lk-cancel")), chromedp.WaitNotVisible(chromedp.CSS("#lk-editor")))
	} else {
		do("remove it", chromedp.Click(row("crm-link", ".lk-delete")), chromedp.WaitVisible(chromedp.CSS("#lk-confirm")),
			chromedp.Click(chromedp.CSS("#lk-confirm-delete")), chromedp.WaitNotVisible(chromedp.CSS("#lk-confirm")))
	}

	// Search: typed (the short term is waited for), then the result.
	do("search",
		chromedp.SendKeys(chromedp.CSS("#lk-q"), "la"),
		chromedp.WaitVisible(chromedp.CSS("#lk-q-hint")),
		chromedp.SendKeys(chromedp.CSS("#lk-q"), "unch"),
		rows(1),
		chromedp.WaitVisible(row("launch-day", ".lk-title")),
	)
	if got := textOf(t, ctx, "#lk-list"); strings.Contains(got, "Other's launch") {
		t.Errorf("acme's search found other's link: %q", got)
	}
	if loc, err := chromedp.Run(ctx, chromedp.Location()); err != nil || !strings.HasSuffix(loc, "/dashboard/links?q=launch") {
		t.Errorf("the address is %q (%v)", loc, err)
	}

	// Tags: each chip picked narrows the list; all must match.
	eval("clear the search", `(() => { const i = document.querySelector("#lk-q"); i.value = ""; i.dispatchEvent(new KeyboardEvent("keydown", {key: "Enter"})); })()`)
	do("pick seed", rows(25), chromedp.Click(chromedp.CSS(`#lk-tagbar .chip[data-tag="seed"]`)), rows(25),
		chromedp.WaitVisible(chromedp.CSS(`#lk-tagbar .chip[data-tag="seed"][aria-pressed="true"]`)))
	do("pick odd too", chromedp.Click(chromedp.CSS(`#lk-tagbar .chip[data-tag="odd"]`)), rows(seedLinks/2))
	for _, c := range codes() {
		var n int
		if _, err := fmt.Sscanf(c, "seed-%d", &n); err != nil || n%2 != 1 {
			t.Errorf("seed and odd picked, the list has %q", c)
		}
	}
	do("clear the tags", chromedp.Click(chromedp.CSS("#lk-tagbar .chip-clear")), rows(25))

	// Most clicks first (the new links have none), then newest first.
	eval("sort by clicks", `(() => { const s = document.querySelector("#lk-sort"); s.value = "clicks"; s.dispatchEvent(new Event("change")); })()`)
	do("sorted by clicks", chromedp.Poll[chromedp.Void](`location.search === "?sort=clicks" && document.querySelector("#lk-summary").textContent.includes("most clicks first")`,
		chromedp.WithPollingInterval(50*time.Millisecond)), rows(25))
	if got := codes(); !slices.Equal(got[:4], []string{"seed-05", "seed-12", "seed-01", "hostile"}) {
		t.Errorf("most clicks first: %q", got)
	}
	if got := attrOf(t, ctx, "#lk-list > li:nth-child(3)", "data-domain"); got != acmeDomain {
		t.Errorf("the third most clicked is on domain %q, want %s", got, acmeDomain)
	}
	if got := textOf(t, ctx, "#lk-list > li:first-child .lk-clicks-n"); got != "1,234" {
		t.Errorf("the most clicked row shows %q clicks", got)
	}
	do("a reload keeps the order", chromedp.Reload(), rows(25), waitText("#lk-summary", "most clicks first"))
	if got := codes(); got[0] != "seed-05" || got[1] != "seed-12" {
		t.Errorf("after a reload: %q", got)
	}
	shot("dashboard-links.png")
	eval("back to newest first", `(() => { const s = document.querySelector("#lk-sort"); s.value = "created"; s.dispatchEvent(new Event("change")); })()`)
	do("newest first", chromedp.Poll[chromedp.Void](`location.search === "" && document.querySelector("#lk-summary").textContent.includes("newest first")`,
		chromedp.WithPollingInterval(50*time.Millisecond)), rows(25))

	// Edit: only what changed is sent; the row and the store follow.
	do("edit",
		chromedp.Click(row("launch-day", ".lk-edit")),
		chromedp.WaitVisible(chromedp.CSS("#lk-f-title")),
		chromedp.Poll[chromedp.Void](`document.querySelector("#lk-f-tags").value === "launch, q3" && document.querySelector("#lk-f-alias").readOnly`, chromedp.WithPollingInterval(50*time.Millisecond)),
	)
	shot("dashboard-links-edit.png")
	do("save the edit",
		chromedp.SetValue(chromedp.CSS("#lk-f-title"), "Launch day, moved"),
		chromedp.SetValue(chromedp.CSS("#lk-f-tags"), "launch"),
		chromedp.Click(chromedp.CSS("#lk-save")),
		waitText(`#lk-list li[data-code="launch-day"] .lk-title`, "Launch day, moved"),
	)
	edited := lookup("launch-day")
	if edited.Title != "Launch day, moved" || !slices.Equal(edited.Tags, []string{"launch"}) || edited.Smart.MaxClicks != 100 ||
		!edited.ExpiresAt.Equal(expires) || edited.Status != 301 || edited.Notes != "for the press" {
		t.Errorf("stored after the edit %+v", edited)
	}

	// Disable and enable.
	do("disable", chromedp.Click(row("launch-day", ".lk-toggle")), waitText(`#lk-list li[data-code="launch-day"] .lk-badges`, "disabled"),
		waitText(`#lk-list li[data-code="launch-day"] .lk-toggle`, "Enable"))
	if !lookup("launch-day").Disabled {
		t.Error("not disabled in the store")
	}
	do("enable", chromedp.Click(row("launch-day", ".lk-toggle")), waitText(`#lk-list li[data-code="launch-day"] .lk-toggle`, "Disable"))
	if lookup("launch-day").Disabled {
		t.Error("still disabled in the store")
	}

	// The QR code, fetched with the key, and its download.
	do("the QR code", chromedp.Click(row("launch-day", ".lk-qr-toggle")), chromedp.WaitVisible(row("launch-day", ".lk-qr img")))
	if src := attrOf(t, ctx, `#lk-list li[data-code="launch-day"] .lk-qr img`, "src"); !strings.HasPrefix(src, "data:image/png;base64,") {
		t.Errorf("the QR image is %.40q", src)
	}
	if got := attrOf(t, ctx, `#lk-list li[data-code="launch-day"] .lk-qr-download`, "download"); got != "launch-day.png" {
		t.Errorf("the QR download is named %q", got)
	}

	// Copy: the short URL on the clipboard.
	if _, err := chromedp.CallBrowser(ctx, browser.SetPermission, browser.SetPermissionParams{
		Permission: &browser.PermissionDescriptor{Name: "clipboard-read"}, Setting: browser.PermissionSettingGranted, Origin: site.url}); err != nil {
		t.Fatal(err)
	}
	do("copy", chromedp.Click(row("launch-day", ".lk-copy")), waitText(`#lk-list li[data-code="launch-day"] .lk-copy`, "Copied"))
	if got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`navigator.clipboard.readText()`, chromedp.EvalAwaitPromise)); err != nil || got != "https://sho.test/launch-day" {
		t.Errorf("the clipboard holds %q (%v)", got, err)
	}

	// Delete: a dialog first; Cancel keeps the link.
	do("delete, then cancel",
		chromedp.Click(row("launch-day", ".lk-delete")),
		chromedp.WaitVisible(chromedp.CSS("#lk-confirm")),
		waitText("#lk-confirm-code", "launch-day"),
		chromedp.Click(chromedp.CSS("#lk-confirm-cancel")),
		chromedp.WaitNotVisible(chromedp.CSS("#lk-confirm")),
	)
	if lookup("launch-day").RetiredAt != (time.Time{}) {
		t.Fatal("Cancel deleted the link")
	}
	do("delete, confirmed, with the statistics",
		chromedp.Click(row("launch-day", ".lk-delete")),
		chromedp.WaitVisible(chromedp.CSS("#lk-confirm")),
		chromedp.Click(chromedp.CSS("#lk-confirm-purge")),
		chromedp.Click(chromedp.CSS("#lk-confirm-delete")),
		chromedp.WaitNotVisible(chromedp.CSS("#lk-confirm")),
		chromedp.Poll[chromedp.Void](`!document.querySelector('#lk-list li[data-code="launch-day"]')`, chromedp.WithPollingInterval(50*time.Millisecond)),
	)
	if l, err := site.links.Lookup(t.Context(), "", "launch-day"); err == nil && l.RetiredAt.IsZero() {
		t.Error("the link is still live")
	}

	// A phone: the list and the editor no wider than the screen.
	do("a phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), chromedp.Navigate(page+"?sort=clicks"), rows(25), waitText("#lk-summary", "most clicks first"))
	widths := func(what string) {
		t.Helper()
		w, err := chromedp.Run(ctx, chromedp.Evaluate[float64](`Math.max(document.documentElement.scrollWidth,
			...[...document.querySelectorAll("#lk-list *, dialog[open], dialog[open] *")].map((e) => e.getBoundingClientRect().right))`))
		if err != nil || w > 390 {
			t.Errorf("%s on a 390 px phone reaches %v px (%v)", what, w, err)
		}
	}
	widths("the list")
	shot("dashboard-links-phone.png")
	do("the editor on a phone", chromedp.Click(row("hostile", ".lk-edit")), chromedp.WaitVisible(chromedp.CSS("#lk-f-title")))
	shot("dashboard-links-phone-edit.png")
	do("every section open", chromedp.Click(chromedp.CSS("#lk-smart > summary")), chromedp.Click(chromedp.CSS("#lk-advanced > summary")))
	widths("the editor")
	do("close the editor", chromedp.Click(chromedp.CSS("#lk-cancel")), chromedp.EmulateViewport(1200, 900))

	// Forget: the list goes.
	do("forget", chromedp.Click(chromedp.CSS("#forget-key")), rows(0), waitText("#lk-empty", "Enter an API key"))
	if got := textOf(t, ctx, "#lk-tagbar"); got != "" {
		t.Errorf("after Forget the tags show %q", got)
	}

	// A viewer: sees the links, cannot change them, and is told why.
	useKey(site.acmeViewer)
	do("the viewer's page", rows(25), waitText("#lk-role-note", "role viewer"),
		chromedp.Poll[chromedp.Void](`document.querySelector("#lk-new").disabled && [...document.querySelectorAll("#lk-list .lk-write")].every((b) => b.disabled)`,
			chromedp.WithPollingInterval(50*time.Millisecond)))

	// Workspace other: its link only, its tags only.
	useKey(site.otherMaker)
	do("other's page", waitText("#workspace-name", "other (ID 3)"), rows(1), chromedp.WaitVisible(row("other-secret", ".lk-title")),
		chromedp.WaitVisible(chromedp.CSS(`#lk-tagbar .chip[data-tag="seed"]`)))
	if got := textOf(t, ctx, "#lk-tagbar"); strings.Contains(got, "odd") || strings.Contains(got, "q3") || strings.Contains(got, "bold") || !strings.Contains(got, "seed 1") {
		t.Errorf("other's tags: %q", got)
	}
	eval("search other's links for acme's", `(() => { const i = document.querySelector("#lk-q"); i.value = "seed"; i.dispatchEvent(new KeyboardEvent("keydown", {key: "Enter"})); })()`)
	do("other's search", waitText("#lk-summary", "matching"), rows(1))
	if got := codes(); !slices.Equal(got, []string{"other-secret"}) {
		t.Errorf("other's search for seed: %q", got)
	}

	// An instance admin over every workspace: each row says whose it is.
	useKey(site.admin)
	do("the instance's links", waitText("#workspace-name", "all workspaces"), rows(25),
		waitText(`#lk-list li[data-code="seed-30"] .lk-meta`, "workspace 2"))
	eval("search for other's", `(() => { const i = document.querySelector("#lk-q"); i.value = "secret"; i.dispatchEvent(new KeyboardEvent("keydown", {key: "Enter"})); })()`)
	do("other's too", rows(1), waitText(`#lk-list li[data-code="other-secret"] .lk-meta`, "workspace 3"))
}

// TestBrowserLinksOlderControlPlane: during a rolling upgrade the page
// may meet a control plane from before click totals, which refuses
// sort=clicks (400 naming sort) and sends no clicks: the page lists
// newest first with the option off and a note saying why, and shows a
// dash for the clicks rather than a made-up 0.
func TestBrowserLinksOlderControlPlane(t *testing.T) {
	// Its own server, store and Chromium: it runs beside the others.
	t.Parallel()
	chromium := os.Getenv("SHORTIFY_CHROMIUM")
	if chromium == "" {
		chromium = testenv.Command(t, "chromium", "chromium")
	}
	site := serveLinks(t, olderControlPlane)
	ctx := newBrowser(t, chromium)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(site.url+"/dashboard/links?sort=clicks"),
		chromedp.WaitVisible(chromedp.CSS("body[data-ready]")),
		chromedp.SendKeys(chromedp.CSS("#api-key"), site.acme),
		chromedp.Click(chromedp.CSS("#key-submit")),
		waitText("#lk-sort-note", "cannot sort links by clicks"),
		waitText("#lk-summary", "newest first"),
	); err != nil {
		t.Fatalf("browser: %v", err)
	}
	if got := evaluate[bool](t, ctx, "the option", `document.querySelector('#lk-sort option[value="clicks"]').disabled && document.querySelector("#lk-sort").value === "created"`); !got {
		t.Error("the clicks option is still on")
	}
	if got := evaluate[string](t, ctx, "the first row", `document.querySelector("#lk-list > li").dataset.code`); got != "seed-30" {
		t.Errorf("the list starts with %q, want seed-30 (newest first)", got)
	}
	if got := textOf(t, ctx, `#lk-list li[data-code="seed-12"] .lk-clicks`); got != "— clicks" {
		t.Errorf("clicks without a total show %q, want a dash", got)
	}
}

// olderControlPlane is cp as a control plane from before click totals
// answers the links page: it refuses sort=clicks and its links carry no
// clicks or clicks_humans.
func olderControlPlane(cp http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/links" || r.Method != http.MethodGet {
			cp.ServeHTTP(w, r)
			return
		}
		if r.URL.Query().Get("sort") == "clicks" {
			problem.WriteField(w, http.StatusBadRequest, "sort", `sort: "created" is the only order`)
			return
		}
		rec := httptest.NewRecorder()
		cp.ServeHTTP(rec, r)
		var page map[string]any
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &page) != nil {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		links, _ := page["links"].([]any)
		for _, l := range links {
			if m, ok := l.(map[string]any); ok {
				delete(m, "clicks")
				delete(m, "clicks_humans")
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(page)
	})
}
