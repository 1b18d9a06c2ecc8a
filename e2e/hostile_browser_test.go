package e2e

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	_ "modernc.org/sqlite" // the embedded default's link database
)

// browserEvents collects what a page must never do: open a dialog
// (alert, confirm, prompt), throw, or log a console error (a CSP
// violation is one).
type browserEvents struct {
	mu         sync.Mutex
	dialogs    []string
	exceptions []string
	errors     []string // console and log entries at level error
}

// listen is a chromedp listener: it must return at once, so a dialog is
// dismissed from a goroutine of its own (an open dialog stalls the page).
func (b *browserEvents) listen(ctx context.Context) func(ev any) {
	return func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch e := ev.(type) {
		case *page.EventJavascriptDialogOpening:
			b.dialogs = append(b.dialogs, string(e.Type)+": "+e.Message+" at "+e.URL)
			go func() {
				_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{})
			}()
		case *runtime.EventExceptionThrown:
			msg := e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				msg += " " + e.ExceptionDetails.Exception.Description
			}
			b.exceptions = append(b.exceptions, msg)
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError {
				var parts []string
				for _, a := range e.Args {
					parts = append(parts, string(a.Value)+a.Description)
				}
				b.errors = append(b.errors, "console.error: "+strings.Join(parts, " "))
			}
		case *log.EventEntryAdded:
			if e.Entry.Level == log.EntryLevelError || strings.Contains(e.Entry.Text, "Content Security Policy") {
				b.errors = append(b.errors, string(e.Entry.Source)+": "+e.Entry.Text+" ("+e.Entry.URL+")")
			}
		}
	}
}

// TestHostileDashboard stores hostile markup wherever the dashboard shows
// what users wrote (targets in query, fragment and path; referrers and
// user agents of clicks; aliases, which are refused; the create form's
// error message) and opens every page in Chromium: no dialog may open, no
// exception be thrown, no console error be a CSP violation, no element be
// made of stored text, and every host shows in punycode.
func TestHostileDashboard(t *testing.T) {
	chromium := ensureChromium(t)
	s := start(t, "SHORTIFY_ALLOW_PRIVATE_TARGETS=")
	h := newHostileRun(s, false)
	cases := loadCorpus(t, "dashboard.jsonl")

	// Links whose targets carry every payload.
	stored := map[string]string{} // code -> target as the API returned it
	var payloads []string
	for _, c := range cases {
		if c.Payload == "" {
			continue
		}
		payloads = append(payloads, c.Payload)
		h.createJSON(t, "alias "+c.Why, map[string]string{"url": "https://example.com/", "alias": c.Payload}, "refuse")
		for _, target := range []string{
			"https://example.com/?q=" + strings.ReplaceAll(c.Payload, " ", "+"),
			"https://example.com/#" + strings.ReplaceAll(c.Payload, " ", "%20"),
			"https://bücher.example/" + strings.ReplaceAll(c.Payload, " ", "/"),
		} {
			resp, body := h.createJSON(t, "target "+c.Why, map[string]string{"url": target}, "any")
			var l link
			if resp.StatusCode == http.StatusCreated && json.Unmarshal(body, &l) == nil {
				stored[l.Code] = l.URL
			} else {
				t.Logf("refused, so not stored: %s (%d)", target, resp.StatusCode)
			}
		}
	}
	if len(stored) < len(payloads) {
		t.Fatalf("only %d of the hostile targets were stored", len(stored))
	}

	// Clicks with the payloads as Referer and User-Agent, and a link
	// whose only referrers are hosts in Unicode.
	clicks := 0
	click := func(code, referer, agent string) {
		t.Helper()
		req, _ := http.NewRequest("GET", s.base+"/"+code, nil)
		req.Header.Set("Referer", referer)
		req.Header.Set("User-Agent", agent)
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		h.check(t, "click on "+code+" from "+referer, "/"+code, true, resp, nil, "any", 0)
		clicks++
	}
	for code := range stored {
		for _, p := range payloads {
			click(code, p, p)
			click(code, "https://example.com/?from="+p, "Mozilla/5.0 (X11; Linux x86_64) "+p)
		}
	}
	idn := s.create("https://example.com/idn-referrers")
	legacy := legacyRow(t, s, "https://bücher.example/legacy-row")
	// A link taken down with markup as its reason: its 451 page names it.
	down := s.create("https://example.com/taken-down")
	reason := strings.Join(payloads, " ")
	rb, _ := json.Marshal(map[string]string{"reason": reason})
	if resp, body := s.request("POST", "/api/v1/admin/links/"+down.Code+"/takedown", string(rb)); resp.StatusCode >= 300 {
		t.Fatalf("take %s down: %d %s", down.Code, resp.StatusCode, body)
	}
	s.waitFor("the takedown to reach the edge", 30*time.Second, func() bool {
		resp, body := s.request("GET", "/"+down.Code, "")
		h.check(t, "the taken-down link", "/"+down.Code, true, resp, body, "any", 0)
		return resp.StatusCode == http.StatusUnavailableForLegalReasons
	})
	var shows []string
	for _, c := range cases {
		if c.Referer != "" {
			click(idn.Code, c.Referer, "Mozilla/5.0 "+c.Referer)
			shows = append(shows, c.Shows)
		}
	}
	s.waitFor("the clicks in the statistics", 60*time.Second, func() bool {
		resp, body := s.request("GET", "/api/v1/stats/overview", "")
		var o struct{ Totals struct{ Clicks int } }
		return resp.StatusCode == http.StatusOK && json.Unmarshal(body, &o) == nil && o.Totals.Clicks >= clicks
	})

	events := &browserEvents{}
	ctx := newBrowser(t, chromium, 3*time.Minute)
	if err := chromedp.Listen(ctx, events.listen(ctx)); err != nil {
		t.Fatal(err)
	}
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		// A step that waits for what never comes fails in 20 s, with
		// what the page says.
		sctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, steps...); err != nil {
			msg, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#message")?.textContent || ""`))
			t.Fatalf("browser: %s: %v (the page says %q)", what, err, msg)
		}
	}
	// One card per dimension of dashboard.js's DIMENSIONS (referrer,
	// country, device, browser, os, status).
	dimsLoaded := chromedp.Poll[chromedp.Void](`document.querySelectorAll("#dims section").length === 6 && `+
		`[...document.querySelectorAll("#dims section")].every(s => s.querySelector("ol, p"))`,
		chromedp.WithPollingInterval(50*time.Millisecond))
	// No element may come from stored text: the only script is the
	// dashboard's, the only image the QR code, and no frame or object.
	noInjected := func(where string) {
		t.Helper()
		n := value(t, ctx, "injected elements", chromedp.Evaluate[int](
			`document.querySelectorAll("script:not([src='/dashboard/static/dashboard.js']), img:not(#qr), iframe, object, embed, svg:not(.chart-svg), [onerror], [onload]").length`))
		if n != 0 {
			html := value(t, ctx, "the page", chromedp.Evaluate[string](`document.body.outerHTML`))
			t.Errorf("%s: %d elements made of stored text:\n%s", where, n, html)
		}
	}

	do("open the overview and enter the key",
		chromedp.Navigate(s.base+"/dashboard/"),
		chromedp.WaitVisible(chromedp.CSS("body[data-ready]")),
		chromedp.SendKeys(chromedp.CSS("#api-key"), s.key),
		chromedp.Click(chromedp.CSS("#key-submit")),
		waitText("#key-state", "key set"),
		dimsLoaded,
	)
	noInjected("the overview")

	// The create form: a refused target's message, and a stored one.
	do("create a javascript: link through the form",
		chromedp.SendKeys(chromedp.CSS("#create-url"), "javascript:alert(1)"),
		chromedp.Click(chromedp.CSS("#create-submit")),
		waitText("#message", "Could not create the link"),
	)
	formTarget := `https://example.com/?q="><script>alert(1)</script><img/src=x/onerror=alert(2)>`
	value(t, ctx, "clear the form", chromedp.Evaluate[bool](`(document.querySelector("#create-url").value = "") === ""`))
	do("create a link with markup through the form",
		chromedp.SendKeys(chromedp.CSS("#create-url"), formTarget),
		chromedp.Click(chromedp.CSS("#create-submit")),
		chromedp.WaitVisible(chromedp.CSS("#created")),
	)
	if v := value(t, ctx, "the form's URL", chromedp.Evaluate[string](`document.querySelector("#create-url").value`)); v != "" {
		t.Errorf("the form still holds %q after creating the link", v)
	}
	if shown := value(t, ctx, "#created-target", chromedp.Text(chromedp.CSS("#created-target"))); !strings.Contains(shown, "<script>") {
		t.Errorf("the created target shows as %q, want the markup as text", shown)
	}
	noInjected("the overview after the form")

	// Every link's page: the target as text, the referrers and agents.
	for code, target := range stored {
		do("open the page of "+code,
			chromedp.Navigate(s.base+"/dashboard/links/"+url.PathEscape(code)),
			chromedp.WaitVisible(chromedp.CSS("body[data-ready]")),
			waitText("#link-target", "://"),
			dimsLoaded,
		)
		shown := value(t, ctx, "#link-target", chromedp.Evaluate[string](`document.querySelector("#link-target").textContent`))
		if shown != target {
			t.Errorf("link %s: the page shows the target %q, want %q", code, shown, target)
		}
		noInjected("the page of " + code + " (" + target + ")")
	}

	// Hosts show in punycode: the targets, and the referrers.
	do("open the page of the Unicode referrers",
		chromedp.Navigate(s.base+"/dashboard/links/"+idn.Code),
		chromedp.WaitVisible(chromedp.CSS("body[data-ready]")),
		dimsLoaded,
	)
	referrers := value(t, ctx, "the referrers", chromedp.Evaluate[string](`document.querySelector("#dim-referrer").textContent`))
	for _, want := range shows {
		if !strings.Contains(referrers, want) {
			t.Errorf("the referrers show %q, want %s among them", referrers, want)
		}
	}
	do("open the page of a row with a Unicode host",
		chromedp.Navigate(s.base+"/dashboard/links/"+legacy),
		chromedp.WaitVisible(chromedp.CSS("body[data-ready]")),
		waitText("#link-target", "://"),
	)
	if shown := value(t, ctx, "#link-target", chromedp.Text(chromedp.CSS("#link-target"))); shown != "https://xn--bcher-kva.example/legacy-row" {
		t.Errorf("a stored Unicode host shows as %q, want it in punycode", shown)
	}
	for code, target := range stored {
		if u, err := url.Parse(target); err != nil || u.Host != strings.ToLower(u.Host) || strings.ContainsFunc(u.Host, func(r rune) bool { return r > 0x7f }) {
			t.Errorf("link %s: the target %q does not have its host in punycode", code, target)
		}
	}
	do("open the taken-down link's page",
		chromedp.Navigate(s.base+"/"+down.Code),
		waitText("body", "taken down"),
	)
	if shown := value(t, ctx, "the reason", chromedp.Text(chromedp.CSS("blockquote"))); shown != reason {
		t.Errorf("the takedown page shows the reason %q, want %q as text", shown, reason)
	}
	noInjected("the takedown page")
	do("open a page whose code is markup",
		chromedp.Navigate(s.base+"/dashboard/links/"+url.PathEscape(payloads[0])),
		chromedp.WaitVisible(chromedp.CSS("body[data-ready]")),
	)
	noInjected("the not-found page")
	do("open the overview again", chromedp.Navigate(s.base+"/dashboard/"), chromedp.WaitVisible(chromedp.CSS("body[data-ready]")), dimsLoaded)
	noInjected("the overview with every click")
	body := value(t, ctx, "the overview's text", chromedp.Evaluate[string](`document.body.innerText`))
	for _, unicode := range []string{"bücher", "pаypal"} {
		if strings.Contains(body, unicode) {
			t.Errorf("the overview shows the host %q in Unicode", unicode)
		}
	}

	events.mu.Lock()
	defer events.mu.Unlock()
	for _, d := range events.dialogs {
		t.Errorf("a dialog opened: %s", d)
	}
	for _, e := range events.exceptions {
		t.Errorf("an exception was thrown: %s", e)
	}
	for _, e := range events.errors {
		if strings.Contains(e, "Content Security Policy") {
			t.Errorf("a CSP violation: %s", e)
		} else {
			t.Logf("console error (not a CSP violation): %s", e)
		}
	}
	t.Logf("%d links with hostile targets, %d hostile clicks, %d dialogs, %d console errors", len(stored), clicks, len(events.dialogs), len(events.errors))
}

// legacyRow makes a link whose stored target has its host in Unicode, as
// a row written before hosts were stored in punycode (or behind the
// API's back) may: created through the API, then rewritten in the
// embedded default's SQLite file. It returns the link's code.
func legacyRow(t *testing.T, s *system, target string) string {
	t.Helper()
	l := s.create("https://example.com/legacy-row")
	db, err := sql.Open("sqlite", filepath.Join(s.dir, "data", "links.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	res, err := db.Exec(`UPDATE links SET url = ? WHERE code = ?`, target, l.Code)
	if err != nil {
		t.Fatalf("rewrite the row of %s: %v", l.Code, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("rewrite the row of %s: %d rows", l.Code, n)
	}
	return l.Code
}
