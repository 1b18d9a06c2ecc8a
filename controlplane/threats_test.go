package controlplane

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/controlplane/threatfeed"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/linkstore/storetest"
	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/internal/threatlist"
)

// TestThreatSettings: the feeds survive the trip through the comparable
// settings, with placeholders in their locations expanded.
func TestThreatSettings(t *testing.T) {
	t.Setenv("SHORTIFY_TEST_FEED_KEY", "k123")
	a := &App{DataDir: t.TempDir(), PublicURL: "https://sho.rt", ThreatFeeds: []ThreatFeed{
		{Name: "pt", Format: "phishtank", Location: "https://data.phishtank.com/data/{env.SHORTIFY_TEST_FEED_KEY}/online-valid.csv"},
		{Name: "mine", Format: "plain", Location: "/etc/shortify/blocked.txt"},
	}}
	wantValid(t, a)
	got := a.threatSettings().feeds()
	want := []threatfeed.Feed{
		{Name: "pt", Format: threatlist.PhishTank, Location: "https://data.phishtank.com/data/k123/online-valid.csv"},
		{Name: "mine", Format: threatlist.Plain, Location: "/etc/shortify/blocked.txt"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("feeds %+v, want %+v", got, want)
	}
	if s := (threatSettings{}).feeds(); len(s) != 0 {
		t.Fatalf("no feeds: %+v", s)
	}
}

// TestLookalikeFlag: lookalike_hosts flag lets look-alikes through the
// policy and has the API flag them.
func TestLookalikeFlag(t *testing.T) {
	a := &App{DataDir: t.TempDir(), PublicURL: "https://sho.rt", LookalikeHosts: "flag", logger: slog.Default()}
	wantValid(t, a)
	if p := a.targetPolicy(); p.RefuseLookalike {
		t.Fatal("lookalike_hosts flag refuses look-alikes")
	}
}

// TestServiceThreatFeeds: a one-node control plane with a feed file
// writes the shared set as leader; its own API then refuses the feed's
// targets; a domain blocked through the admin blocklist afterwards
// reaches the set and flags the link that already points there.
func TestServiceThreatFeeds(t *testing.T) {
	feed := filepath.Join(t.TempDir(), "feed.txt")
	if err := os.WriteFile(feed, []byte("# test\nevil.example\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	key := newKey(t)
	a := &App{
		DataDir:          t.TempDir(),
		RaftBind:         testenv.FreeAddr(t),
		InitialAPIKey:    key.Secret,
		PublicURL:        "https://sho.rt",
		ThreatFeeds:      []ThreatFeed{{Name: "mine", Format: "plain", Location: feed}},
		BlocklistRefresh: caddy.Duration(20 * time.Millisecond),
	}
	wantValid(t, a)
	svc := openTestService(t, a)
	t.Cleanup(func() { _ = svc.Destruct() })
	h, err := api.New(api.Config{PublicURL: a.PublicURL}, svc.deps())
	if err != nil {
		t.Fatal(err)
	}
	create := func(target string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "https://sho.rt/api/v1/links", strings.NewReader(`{"url":"`+target+`"}`))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", "Bearer "+key.Secret)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	testenv.WaitFor(t, "a create to the feed's domain is refused", 20*time.Second, func() bool {
		w := create("https://www.evil.example/x")
		return w.Code == http.StatusBadRequest && strings.Contains(w.Body.String(), `listed by the threat feed \"mine\"`)
	})

	l := storetest.NewLink()
	l.URL = "https://later.example/x"
	if err := svc.store.Create(t.Context(), l); err != nil {
		t.Fatal(err)
	}
	if err := svc.node.SetDomainBlocked(t.Context(), "later.example", true); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, "the link to the newly blocked domain is flagged", 20*time.Second, func() bool {
		rs, err := svc.blocks.Reviews(t.Context(), []linkstore.Key{l.Key()})
		return err == nil && rs[l.Key()].Source == threatfeed.AdminSource
	})
	testenv.WaitFor(t, "this node's set has the blocked domain", 20*time.Second, func() bool {
		hit, ok := svc.watcher.Set().Match(l.URL)
		return ok && hit.Source == threatfeed.AdminSource
	})
}
