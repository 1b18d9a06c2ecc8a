package dashboard_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/shortify/shortify/internal/apiauth"
	"github.com/shortify/shortify/internal/clickevents"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/stats/aggregate"
	"github.com/shortify/shortify/stats/api"
	"github.com/shortify/shortify/stats/dashboard"
	"github.com/shortify/shortify/stats/partitions"
	"github.com/shortify/shortify/stats/statsdb"
)

// statsAPI is the stats API over a new SQLite stats database holding the
// events' aggregates (none: an empty one), reading the test's keys and
// links.
func statsAPI(t *testing.T, keys apiauth.KeyLookup, links linkstore.Store, events []clickevents.Event) http.Handler {
	t.Helper()
	dsn := "sqlite://" + filepath.Join(t.TempDir(), "stats.db")
	m, err := partitions.Open(t.Context(), partitions.Config{DSN: dsn, Migrate: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	b := aggregate.NewBatch()
	for i := range events {
		b.Add(&events[i])
	}
	db, err := statsdb.Open(t.Context(), statsdb.Config{DSN: dsn, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Write(t.Context(), &statsdb.Batch{Group: "g", Rows: b.Rows(), Offsets: []statsdb.Offset{{Topic: "clicks", Expected: statsdb.NoOffset, Next: 1}}})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	store, err := api.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	h, err := api.New(api.Config{}, api.Deps{
		Store:     store,
		Keys:      func(context.Context) apiauth.KeyLookup { return keys },
		Directory: func(context.Context) api.Directory { return directory{links} },
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// serveDashboard serves the dashboard, the stats API, and other (the
// control plane's API; nil: not part of the test) for everything else,
// and returns the server's URL.
func serveDashboard(t *testing.T, stats, other http.Handler) string {
	t.Helper()
	if other == nil {
		other = http.NotFoundHandler()
	}
	dash := dashboard.New()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, api.Prefix):
			stats.ServeHTTP(w, r)
		case strings.HasPrefix(r.URL.Path, "/dashboard"):
			dash.ServeHTTP(w, r)
		default:
			other.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// evaluate is the value of the JavaScript expression in the page.
func evaluate[T any](t *testing.T, ctx context.Context, what, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("browser: %s: %v", what, err)
	}
	return v
}

// screenshot writes the whole page as a PNG named name into
// $SHORTIFY_TEST_ARTIFACTS (default: the test's temporary directory); a
// failure is only logged, the screenshots being for people.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	saveScreenshot(t, ctx, name, chromedp.FullScreenshot(100)) // 100: PNG (below it, JPEG)
}

// viewportScreenshot is screenshot of the viewport only: what a person
// sees, with an open dialog over it.
func viewportScreenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	saveScreenshot(t, ctx, name, chromedp.CaptureScreenshot())
}

// saveScreenshot writes the PNG that capture takes as name.
func saveScreenshot(t *testing.T, ctx context.Context, name string, capture chromedp.Action[[]byte]) {
	t.Helper()
	artifacts := os.Getenv("SHORTIFY_TEST_ARTIFACTS")
	if artifacts == "" {
		artifacts = t.TempDir()
	}
	png, err := chromedp.Run(ctx, capture)
	if err == nil {
		err = os.MkdirAll(artifacts, 0o755)
	}
	path := filepath.Join(artifacts, name)
	if err == nil {
		err = os.WriteFile(path, png, 0o644)
	}
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return
	}
	t.Logf("screenshot: %s", path)
}

// idle waits until the page's statistics are loaded: the script marks
// #page aria-busy while a load runs, and a form filled from the APIs (the
// smart link's) is filled by then.
func idle() chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](`!document.querySelector("#page[aria-busy]")`, chromedp.WithPollingInterval(50*time.Millisecond))
}
