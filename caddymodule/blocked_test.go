package caddymodule

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/shortify/shortify/controlplane/leader"
	"github.com/shortify/shortify/controlplane/threatfeed"
	"github.com/shortify/shortify/internal/blockset"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/testkit/kafkatest"
	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/internal/threatlist"
)

// blockBackends are fresh databases of each kind: the block set is one per
// database, so these tests do not share the package's PostgreSQL database.
var blockBackends = []backendCase{
	{"sqlite", sqliteDSN},
	{"postgres", func(tb testing.TB) string { return testenv.Schema(tb.(*testing.T)) }},
}

// TestBlockedAtClick: links created before their targets were listed stop
// redirecting at the edge once the leader's refresh writes the set (a
// feed file, a feed over HTTPS, then the admin blocklist), although the
// edge holds them in its L1, and answer the interstitial.
func TestBlockedAtClick(t *testing.T) {
	for _, bc := range blockBackends {
		t.Run(bc.name, func(t *testing.T) {
			ctx := context.Background()
			dsn := bc.dsn(t)
			links := seeder(t, dsn)
			create(t, links,
				linkstore.Link{Code: "evil", URL: "https://www.evil.example/a?b=1"},
				linkstore.Link{Code: "phish", URL: "https://shared.example/phish"},
				linkstore.Link{Code: "later", URL: "https://later.example/"},
				linkstore.Link{Code: "fine", URL: "https://shared.example/fine"},
			)
			h := provision(t, &Handler{Database: dsn, BlocklistRefresh: caddy.Duration(20 * time.Millisecond), CacheTTL: caddy.Duration(time.Hour)})
			for _, code := range []string{"evil", "phish", "later", "fine"} {
				if w, _ := serve(h, "GET", "/"+code, nil); w.Code != http.StatusFound {
					t.Fatalf("%s before any block: %d", code, w.Code)
				}
			}

			feed := filepath.Join(t.TempDir(), "plain.txt")
			if err := os.WriteFile(feed, []byte("# test\nevil.example\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				_, _ = w.Write([]byte("https://shared.example/phish\n"))
			}))
			t.Cleanup(srv.Close)
			store, err := blockset.Open(ctx, dsn, true)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(store.Close)
			var mu sync.Mutex
			var admin []string
			r, err := threatfeed.New(new(leader.Flag), threatfeed.Config{
				Feeds: []threatfeed.Feed{
					{Name: "mine", Format: threatlist.Plain, Location: feed},
					{Name: "openphish", Format: threatlist.OpenPhish, Location: srv.URL + "/feed.txt"},
				},
				Admin:  func() []string { mu.Lock(); defer mu.Unlock(); return admin },
				Store:  store,
				Links:  links,
				Client: srv.Client(),
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			waitBlocked(t, h, "evil", "https://www.evil.example/a?b=1", "listed by mine")
			waitBlocked(t, h, "phish", "https://shared.example/phish", "listed by openphish")
			if w, _ := serve(h, "GET", "/fine", nil); w.Code != http.StatusFound {
				t.Fatalf("a link to another page of a listed URL's host: %d", w.Code)
			}

			mu.Lock()
			admin = []string{"later.example"}
			mu.Unlock()
			if err := r.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			waitBlocked(t, h, "later", "https://later.example/", "blocked by the operator")
			if n := testutilCount(h); n < 3 {
				t.Errorf("blocked clicks counted %d, want at least 3", n)
			}
			w, _ := serve(h, "HEAD", "/later", nil)
			if w.Code != http.StatusOK || w.Body.Len() != 0 || w.Header().Get("Location") != "" {
				t.Errorf("HEAD of a blocked link: %d, %d bytes, Location %q", w.Code, w.Body.Len(), w.Header().Get("Location"))
			}

			// Unblocked again: the link redirects.
			mu.Lock()
			admin = nil
			mu.Unlock()
			if err := r.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			testenv.WaitFor(t, "the unblocked link redirects", 10*time.Second, func() bool {
				w, _ := serve(h, "GET", "/later", nil)
				return w.Code == http.StatusFound
			})
		})
	}
}

// waitBlocked polls until the code answers the interstitial, then checks
// the page: no Location, a strict CSP, the target as text and not a link.
func waitBlocked(t *testing.T, h *Handler, code, target, source string) {
	t.Helper()
	var w *httptest.ResponseRecorder
	testenv.WaitFor(t, code+" answers the interstitial", 10*time.Second, func() bool {
		w, _ = serve(h, "GET", "/"+code, nil)
		return w.Code == http.StatusOK
	})
	hdr := w.Header()
	body := w.Body.String()
	switch {
	case hdr.Get("Location") != "":
		t.Errorf("%s: interstitial with Location %q", code, hdr.Get("Location"))
	case !strings.HasPrefix(hdr.Get("Content-Security-Policy"), "default-src 'none';"):
		t.Errorf("%s: CSP %q", code, hdr.Get("Content-Security-Policy"))
	case hdr.Get("Cache-Control") != "no-store" || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html"):
		t.Errorf("%s: headers %v", code, hdr)
	case !strings.Contains(body, "<code>"+strings.ReplaceAll(target, "&", "&amp;")+"</code>"):
		t.Errorf("%s: the page does not show the target as text: %s", code, body)
	case strings.Contains(body, "href") || strings.Contains(body, "<script"):
		t.Errorf("%s: the page has a link or a script: %s", code, body)
	case !strings.Contains(body, source):
		t.Errorf("%s: the page does not say %q: %s", code, source, body)
	}
}

func testutilCount(h *Handler) uint64 { return counter{h.blockedClicks}.Load() }

// TestRenderBlockedEscapes: whatever a target holds, it stays text.
func TestRenderBlockedEscapes(t *testing.T) {
	body := string(renderBlocked(`https://x.example/"><script>alert(1)</script>`, `f"<b>`))
	if strings.Contains(body, "<script>") || strings.Contains(body, "<b>") {
		t.Fatalf("unescaped: %s", body)
	}
}

// TestBlockedEmptySetCostsNothing: with nothing blocked the check
// allocates nothing.
func TestBlockedEmptySetCostsNothing(t *testing.T) {
	h := provision(t, &Handler{Database: sqliteDSN(t)})
	w := httptest.NewRecorder()
	r := httptest.NewRequest("GET", "/x", nil)
	var e entry
	if n := testing.AllocsPerRun(100, func() { h.blockedClick(w, r, "x", "", &e, "https://example.com/") }); n != 0 {
		t.Fatalf("blockedClick allocates %v times with an empty set", n)
	}
}

// BenchmarkServeHTTP_L1HitBlockset is the hot path with 100,000 hosts and
// 100,000 URLs on the block set, for a link that is on neither: the cost
// of the click-time check when something is blocked (compare with
// BenchmarkServeHTTP_L1Hit).
func BenchmarkServeHTTP_L1HitBlockset(b *testing.B) {
	dsn := sqliteDSN(b)
	store, err := blockset.Open(context.Background(), dsn, true)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(store.Close)
	entries := make([]threatlist.Sourced, 0, 200_000)
	for i := range 100_000 {
		n := strconv.Itoa(i)
		entries = append(entries,
			threatlist.Sourced{Entry: threatlist.Entry{Kind: threatlist.Host, Value: "h" + n + ".example"}, Source: "f"},
			threatlist.Sourced{Entry: threatlist.Entry{Kind: threatlist.URL, Value: "u.example/" + n}, Source: "f"})
	}
	if _, _, err := store.Replace(context.Background(), entries); err != nil {
		b.Fatal(err)
	}
	h, c := benchHandler(b, dsn, "")
	testenv.WaitFor(b, "the edge loads the block set", 30*time.Second, func() bool { return h.blocks.Set() != nil })
	benchHits(b, h, httptest.NewRequest("GET", "/"+c, nil))
}

// TestBlockedClickEvent: a blocked click is still a click event, with
// status 200 (the interstitial) instead of a redirect status.
func TestBlockedClickEvent(t *testing.T) {
	k := kafkatest.StartBroker(t, 2, testClicksTopic, testLinksTopic)
	c := newCode(t, "blk")
	dsn := seededDSN(t, linkstore.Link{ID: 4343, Code: c, URL: "https://evil.example/x"})
	store, err := blockset.Open(context.Background(), dsn, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	if _, _, err := store.Replace(context.Background(), []threatlist.Sourced{
		{Entry: threatlist.Entry{Kind: threatlist.Host, Value: "evil.example"}, Source: "mine"}}); err != nil {
		t.Fatal(err)
	}
	h := provision(t, eventsHandler(&Handler{Database: dsn, BlocklistRefresh: caddy.Duration(20 * time.Millisecond)}, k))
	// Loaded before the first click, so that no click redirects.
	testenv.WaitFor(t, "the edge loads the block set", 10*time.Second, func() bool { return h.blocks.Set() != nil })
	waitBlocked(t, h, c, "https://evil.example/x", "listed by mine")
	got := readClicks(t, k, 1)
	if e := got[0]; e.Code != c || e.LinkID != 4343 || e.Status != http.StatusOK {
		t.Fatalf("event %+v, want code %s, link 4343, status 200", e, c)
	}
}
