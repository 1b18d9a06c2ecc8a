package dashboard_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/shortify/shortify/internal/apiauth"
	"github.com/shortify/shortify/internal/apikey"
	"github.com/shortify/shortify/internal/clickevents"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/internal/testkit/teststore"
	"github.com/shortify/shortify/internal/workspace"
	"github.com/shortify/shortify/stats/api"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// wsLink is a link of the workspace view's test and its clicks.
type wsLink struct {
	code    string
	id, ws  int64
	country string
	clicks  int
}

// wsLinks: workspace 2 ("acme") and 3 ("other") with a link each; their
// countries tell their clicks apart on the page.
var wsLinks = []wsLink{
	{"acme-link", 201, 2, "JP", 3},
	{"other-link", 301, 3, "DE", 5},
}

var wsList = []api.Workspace{{ID: 1, Name: "default"}, {ID: 2, Name: "acme"}, {ID: 3, Name: "other"}}

// directory is api.Directory on a real link store and wsList.
type directory struct{ links linkstore.Store }

func (directory) Workspace(id int64) (api.Workspace, bool) {
	i := slices.IndexFunc(wsList, func(w api.Workspace) bool { return w.ID == id })
	if i < 0 {
		return api.Workspace{}, false
	}
	return wsList[i], true
}

func (directory) WorkspaceByName(name string) (api.Workspace, bool) {
	i := slices.IndexFunc(wsList, func(w api.Workspace) bool { return w.Name == name })
	if i < 0 {
		return api.Workspace{}, false
	}
	return wsList[i], true
}

func (directory) Workspaces() []api.Workspace { return slices.Clone(wsList) }

func (d directory) Link(ctx context.Context, domain, code string) (api.LinkRef, bool, error) {
	l, err := d.links.Lookup(ctx, domain, code)
	if errors.Is(err, linkstore.ErrNotFound) {
		return api.LinkRef{}, false, nil
	}
	if err != nil {
		return api.LinkRef{}, false, err
	}
	return api.LinkRef{ID: l.ID, Workspace: workspace.Of(l.WorkspaceID)}, true, nil
}

// keyRing holds the test's keys.
type keyRing map[string]apiauth.KeyRecord

func (k keyRing) LookupKey(id string) (apiauth.KeyRecord, bool) { r, ok := k[id]; return r, ok }

func (k keyRing) add(t *testing.T, role apikey.Role, ws int64) string {
	t.Helper()
	key, err := apikey.New()
	if err != nil {
		t.Fatal(err)
	}
	k[key.ID] = apiauth.KeyRecord{ID: key.ID, Name: string(role), Role: role, Hash: key.Hash, CreatedAt: time.Now(), Workspace: ws}
	return key.Secret
}

// serveWorkspaces serves the dashboard and the stats API over a SQLite
// stats database holding wsLinks' clicks of today.
func serveWorkspaces(t *testing.T, keys keyRing) string {
	t.Helper()
	links := teststore.SQLite(t)
	today := time.Now().UTC().Truncate(time.Hour)
	var events []clickevents.Event
	for _, l := range wsLinks {
		if err := links.Create(t.Context(), linkstore.Link{ID: l.id, Code: l.code, WorkspaceID: l.ws, URL: "https://example.com/" + l.code, CreatedAt: today}); err != nil {
			t.Fatal(err)
		}
		for i := range l.clicks {
			events = append(events, clickevents.Event{Time: today, Code: l.code, LinkID: l.id, Status: 302, Visitor: uint64(l.id*10 + int64(i)),
				Country: l.country, UserAgent: "Mozilla/5.0 Firefox/140.0", Workspace: l.ws})
		}
	}
	return serveDashboard(t, statsAPI(t, keys, links, events), nil)
}

// TestBrowserWorkspaceView drives the dashboard in headless Chromium: a
// workspace's key sees its workspace's name and ID and only its clicks,
// and another workspace's link page shows none of that link's; an
// instance admin sees "all workspaces", every click, and picks a
// workspace to see only its clicks.
func TestBrowserWorkspaceView(t *testing.T) {
	// Its own server, store and Chromium: it runs beside the others.
	t.Parallel()
	chromium := os.Getenv("SHORTIFY_CHROMIUM")
	if chromium == "" {
		chromium = testenv.Command(t, "chromium", "chromium")
	}
	keys := keyRing{}
	acme, admin := keys.add(t, apikey.Viewer, 2), keys.add(t, apikey.Admin, 0)
	base := serveWorkspaces(t, keys)
	ctx := newBrowser(t, chromium)
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("browser: %s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("browser: text of %s: %v", sel, err)
		}
		return v
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

	// A workspace's viewer: its name and ID, its clicks only.
	useKey(acme)
	do("the workspace's overview",
		waitText("#workspace-name", "acme (ID 2)"),
		waitText("#top-links tbody", "acme-link"),
		waitText("#total-clicks", "3"),
		waitText("#dim-country", "Japan"),
	)
	if s := text("#top-links tbody") + text("#dims"); strings.Contains(s, "other-link") || strings.Contains(s, "Germany") {
		t.Errorf("workspace acme's overview shows workspace other's clicks: %q", s)
	}
	if hidden(t, ctx, "#workspace-pick") != true {
		t.Error("a workspace's key is offered a workspace picker")
	}
	do("another workspace's link page",
		chromedp.Navigate(base+"/dashboard/links/other-link"),
		chromedp.WaitVisible(chromedp.CSS("body[data-ready]")),
		waitText("#message", `no link "other-link"`),
	)
	if got := text("#total-clicks"); got != "–" {
		t.Errorf("another workspace's link page shows %q clicks", got)
	}

	// The instance admin: every workspace, then the one it picks.
	useKey(admin)
	do("the instance's overview",
		waitText("#workspace-name", "instance admin: all workspaces"),
		waitText("#total-clicks", "8"),
		waitText("#top-links tbody", "other-link"),
		waitText("#top-links tbody", "acme-link"),
	)
	if hidden(t, ctx, "#workspace-pick") != false {
		t.Fatal("the instance admin has no workspace picker")
	}
	do("pick workspace other",
		chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector("#workspace-pick"); s.value = "3"; s.dispatchEvent(new Event("change")); })()`),
		waitText("#workspace-name", "instance admin: other (ID 3)"),
		waitText("#total-clicks", "5"),
		waitText("#dim-country", "Germany"),
	)
	if s := text("#top-links tbody") + text("#dims"); strings.Contains(s, "acme-link") || strings.Contains(s, "Japan") {
		t.Errorf("workspace other's view shows workspace acme's clicks: %q", s)
	}
	screenshot(t, ctx, "dashboard-workspace.png")
}

// hidden tells whether the element is hidden.
func hidden(t *testing.T, ctx context.Context, sel string) bool {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[bool](fmt.Sprintf(`document.querySelector(%q).hidden`, sel)))
	if err != nil {
		t.Fatalf("browser: %s hidden: %v", sel, err)
	}
	return v
}

// newBrowser starts headless Chromium for the test, stopped when it ends.
func newBrowser(t *testing.T, chromium string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.NoSandbox, // tests may run as root, where the sandbox refuses to start
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1200, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelCtx := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(cancelCtx)
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// waitText waits until the element's text contains want.
func waitText(sel, want string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](fmt.Sprintf(`(document.querySelector(%q)?.textContent || "").includes(%q)`, sel, want),
		chromedp.WithPollingInterval(50*time.Millisecond))
}
