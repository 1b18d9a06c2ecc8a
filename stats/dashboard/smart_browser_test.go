package dashboard_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	cpapi "github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/internal/apiauth"
	"github.com/shortify/shortify/internal/apikey"
	"github.com/shortify/shortify/internal/clickevents"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/smartlink"
	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/internal/testkit/teststore"
)

// cpKeys is the control plane's key ring over the test's keys (the
// writes are not used).
type cpKeys struct{ keyRing }

func (k cpKeys) ListKeys() []apiauth.KeyRecord {
	var out []apiauth.KeyRecord
	for _, r := range k.keyRing {
		out = append(out, r)
	}
	return out
}

func (cpKeys) AddKey(context.Context, apiauth.KeyRecord) error {
	return errors.New("not in this test")
}

func (cpKeys) RevokeKey(context.Context, string, time.Time) (bool, error) {
	return false, errors.New("not in this test")
}

// noIssuer is the control plane's ID and code source; the test creates
// its link in the store itself.
type noIssuer struct{}

func (noIssuer) NewID() (int64, error)     { return 0, errors.New("not in this test") }
func (noIssuer) NextCode() (string, error) { return "", errors.New("not in this test") }

// smartCode is the smart link of the test; smartClicks its clicks by
// choice: 3 to its url, 4 to targets[0], 2 to rules[0].
const smartCode = "smart-link"

var smartClicks = map[smartlink.Choice]int{smartlink.ChoiceURL: 3, smartlink.TargetChoice(0): 4, smartlink.RuleChoice(0): 2}

// serveSmart serves the dashboard, the stats API over a SQLite stats
// database with smartClicks, and the control plane's API over a SQLite
// link store holding the link, which it returns.
func serveSmart(t *testing.T, keys keyRing) (string, linkstore.Store) {
	t.Helper()
	links := teststore.SQLite(t)
	today := time.Now().UTC().Truncate(time.Hour)
	const id = 401
	if err := links.Create(t.Context(), linkstore.Link{ID: id, Code: smartCode, WorkspaceID: 1, URL: "https://example.com/smart", CreatedAt: today}); err != nil {
		t.Fatal(err)
	}
	var events []clickevents.Event
	for c, n := range smartClicks {
		for i := range n {
			events = append(events, clickevents.Event{Time: today, Code: smartCode, LinkID: id, Status: 302, Visitor: uint64(100*int(c) + i + 1),
				Country: "NL", UserAgent: "Mozilla/5.0 Firefox/140.0", Workspace: 1, Choice: uint8(c)})
		}
	}
	linksAPI, err := cpapi.New(cpapi.Config{PublicURL: "https://sho.test", Logger: slog.New(slog.DiscardHandler)},
		cpapi.Deps{Store: links, Issuer: noIssuer{}, Keys: cpKeys{keys}})
	if err != nil {
		t.Fatal(err)
	}
	return serveDashboard(t, statsAPI(t, keys, links, events), linksAPI), links
}

// TestBrowserSmartLink drives a smart link's page in headless Chromium:
// it shows the clicks per variant, edits max_clicks and a rule through
// the control plane's API, and after a reload shows what was saved; a
// rule with an unknown condition is refused with the field the API names
// shown next to the form, and the link stays as it was; a password is set
// (the page says "protected") and removed, and so are UTM parameters.
func TestBrowserSmartLink(t *testing.T) {
	// Its own server, store and Chromium: it runs beside the others.
	t.Parallel()
	chromium := os.Getenv("SHORTIFY_CHROMIUM")
	if chromium == "" {
		chromium = testenv.Command(t, "chromium", "chromium")
	}
	keys := keyRing{}
	admin := keys.add(t, apikey.Admin, 0)
	base, links := serveSmart(t, keys)
	ctx := newBrowser(t, chromium)
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("browser: %s: %v", what, err)
		}
	}
	value := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("browser: value of %s: %v", sel, err)
		}
		return v
	}
	stored := func() smartlink.Options {
		t.Helper()
		l, err := links.Lookup(t.Context(), "", smartCode)
		if err != nil {
			t.Fatal(err)
		}
		return l.Smart
	}
	storedURL := func() string {
		t.Helper()
		l, err := links.Lookup(t.Context(), "", smartCode)
		if err != nil {
			t.Fatal(err)
		}
		return l.URL
	}
	page := base + "/dashboard/links/" + smartCode
	do("enter the key and open the link's page",
		chromedp.Navigate(base+"/dashboard/"),
		chromedp.WaitVisible(chromedp.CSS("body[data-ready]")), idle(),
		chromedp.SendKeys(chromedp.CSS("#api-key"), admin),
		chromedp.Click(chromedp.CSS("#key-submit")),
		waitText("#key-state", "key set"),
		chromedp.Navigate(page),
		chromedp.WaitVisible(chromedp.CSS("body[data-ready]")), idle(),
		waitText("#total-clicks", "9"),
		waitText("#variant-list", "targets[0]"),
		waitText("#variant-list", "rules[0]"),
		waitText("#smart-protected", "not protected"),
	)
	if got := strings.Fields(textOf(t, ctx, "#variant-list")); !slices.Equal(got, []string{"targets[0]", "4", "url", "https://example.com/smart", "3", "rules[0]", "2"}) {
		t.Errorf("variants %q", got)
	}

	// Edit max_clicks and a rule, save, reload.
	const rule = `[{"when": {"device": ["mobile"]}, "url": "https://m.example.com/"}]`
	do("edit and save",
		chromedp.SendKeys(chromedp.CSS("#smart-max-clicks"), "100"),
		chromedp.SetValue(chromedp.CSS("#smart-rules"), rule),
		chromedp.Click(chromedp.CSS("#smart-save")),
		waitText("#smart-state", "Saved."),
		chromedp.Navigate(page),
		chromedp.WaitVisible(chromedp.CSS("body[data-ready]")), idle(),
		chromedp.Poll[chromedp.Void](`document.querySelector("#smart-max-clicks").value === "100"`, chromedp.WithPollingInterval(50*time.Millisecond)),
		waitText("#variant-list", "rules[0] https://m.example.com/"), // the rule's URL now
	)
	if got := value("#smart-rules"); !strings.Contains(got, "m.example.com") || !strings.Contains(got, "mobile") {
		t.Errorf("rules after a reload: %q", got)
	}
	saved := stored()
	if saved.MaxClicks != 100 || len(saved.Rules) != 1 || saved.Rules[0].URL != "https://m.example.com/" {
		t.Fatalf("stored after saving: %+v", saved)
	}

	// A rule with an unknown condition: the API's field, next to the form.
	do("save a bad rule",
		chromedp.SetValue(chromedp.CSS("#smart-rules"), `[{"when": {"colour": ["red"]}, "url": "https://x.example.com/"}]`),
		chromedp.Click(chromedp.CSS("#smart-save")),
		waitText("#smart-error", "rules[0].when.colour"),
	)
	if hidden(t, ctx, "#smart-error") {
		t.Error("the refusal is not shown")
	}
	if got := stored(); got.MaxClicks != 100 || len(got.Rules) != 1 || got.Rules[0].URL != saved.Rules[0].URL {
		t.Errorf("a refused save changed the link: %+v", got)
	}

	// A password: set (the page says "protected", the store holds a hash),
	// then removed.
	do("set a password",
		chromedp.Navigate(page),
		chromedp.WaitVisible(chromedp.CSS("body[data-ready]")), idle(),
		waitText("#smart-protected", "not protected"),
		chromedp.SendKeys(chromedp.CSS("#smart-password"), "open sesame"),
		chromedp.SendKeys(chromedp.CSS("#smart-preview-title"), "A <b>title</b>"),
		chromedp.SendKeys(chromedp.CSS("#smart-utm-source"), "mail"),
		chromedp.Click(chromedp.CSS("#smart-save")),
		waitText("#smart-state", "Saved."),
		chromedp.Navigate(page),
		chromedp.WaitVisible(chromedp.CSS("body[data-ready]")), idle(),
		chromedp.Poll[chromedp.Void](`document.querySelector("#smart-protected").textContent === "protected"`, chromedp.WithPollingInterval(50*time.Millisecond)),
	)
	if got := stored(); got.PasswordHash == "" || got.MaxClicks != 100 || got.Preview == nil || got.Preview.Title != "A <b>title</b>" {
		t.Errorf("stored after setting a password: %+v", got)
	}
	if got := value("#smart-preview-title"); got != "A <b>title</b>" {
		t.Errorf("preview title shown as %q", got)
	}
	if got := value("#smart-utm-source"); got != "mail" || !strings.Contains(storedURL(), "utm_source=mail") {
		t.Errorf("utm source shown as %q, the link's url %q", got, storedURL())
	}
	do("remove the password and the utm parameters",
		chromedp.Click(chromedp.CSS("#smart-password-remove")),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#smart-utm-source").value = ""`),
		chromedp.Click(chromedp.CSS("#smart-save")),
		waitText("#smart-state", "Saved."),
		chromedp.Poll[chromedp.Void](`document.querySelector("#smart-protected").textContent === "not protected"`, chromedp.WithPollingInterval(50*time.Millisecond)),
	)
	if got := stored(); got.PasswordHash != "" {
		t.Errorf("the password was not removed: %+v", got)
	}
	if u := storedURL(); strings.Contains(u, "utm_") {
		t.Errorf("the utm parameters were not removed: %q", u)
	}
	screenshot(t, ctx, "dashboard-smart-link.png")
}

// textOf is the element's text.
func textOf(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("browser: text of %s: %v", sel, err)
	}
	return v
}
