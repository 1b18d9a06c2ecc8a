package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBrowserReportPage sends an abuse report through the /report page in
// headless Chromium against the built binary and the repository's
// Caddyfile: the page's script runs under its Content-Security-Policy
// (one script file, nothing inline), the report reaches the admin list,
// and a ?url= that holds markup is shown as text and runs nothing.
func TestBrowserReportPage(t *testing.T) {
	chromium := ensureChromium(t)
	s := start(t)
	resp, body := s.request("POST", "/api/v1/links", `{"url":"https://example.com/phish"}`)
	var l link
	if resp.StatusCode != http.StatusCreated || json.Unmarshal(body, &l) != nil {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}

	ctx := newBrowser(t, chromium, 2*time.Minute)
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("browser: %s: %v\nshortify logs:\n%s", what, err, s.logs.String())
		}
	}

	evil := `"><script>window.pwned=1</script><img src=x onerror="window.pwned=2">`
	do("open the page with markup in ?url=",
		chromedp.Navigate(s.base+"/report?url="+url.QueryEscape(evil)),
		chromedp.WaitVisible(chromedp.CSS("#report")),
	)
	shown := value(t, ctx, "the url field", chromedp.Evaluate[string](`document.getElementById("url").value`))
	pwned := value(t, ctx, "window.pwned", chromedp.Evaluate[int](`window.pwned === undefined ? 0 : window.pwned`))
	if shown != evil || pwned != 0 {
		t.Errorf("?url= markup: field %q, window.pwned %d", shown, pwned)
	}

	do("send a report through the form",
		chromedp.Navigate(s.base+"/report?url="+url.QueryEscape(l.Code)),
		chromedp.WaitVisible(chromedp.CSS("#report")),
		chromedp.SetValue(chromedp.CSS("#reason"), "phishing"),
		chromedp.SendKeys(chromedp.CSS("#details"), "asks for my bank password"),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		waitText("#result", "was received"),
	)
	resp, body = s.request("GET", "/api/v1/admin/reports", "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"code":"`+l.Code+`"`) || !strings.Contains(string(body), "bank password") {
		t.Errorf("reports: %d %s", resp.StatusCode, body)
	}
}
