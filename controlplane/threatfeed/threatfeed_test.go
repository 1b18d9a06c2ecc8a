package threatfeed_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/shortify/shortify/controlplane/leader"
	"github.com/shortify/shortify/controlplane/threatfeed"
	"github.com/shortify/shortify/internal/blockset"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/testkit/promtest"
	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/internal/testkit/teststore"
	"github.com/shortify/shortify/internal/threatlist"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// setup is a link store and the block set in the same database, on each
// backend.
type setup struct {
	links linkstore.Store
	set   blockset.Store
	dsn   string
}

var backends = map[string]func(t *testing.T) setup{
	"sqlite": func(t *testing.T) setup {
		path := filepath.Join(t.TempDir(), "links.db")
		return setup{links: teststore.SQLiteFile(t, path), dsn: "sqlite://" + path}
	},
	"postgres": func(t *testing.T) setup {
		dsn := testenv.Schema(t)
		return setup{links: teststore.Postgres(t, dsn), dsn: dsn}
	},
}

func open(t *testing.T, name string) setup {
	t.Helper()
	s := backends[name](t)
	var err error
	if s.set, err = blockset.Open(context.Background(), s.dsn, true); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.set.Close)
	return s
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func create(t *testing.T, s linkstore.Store, id int64, code, target string) {
	t.Helper()
	if err := s.Create(context.Background(), linkstore.Link{ID: id, Code: code, URL: target, CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}); err != nil {
		t.Fatal(err)
	}
}

func TestRefresh(t *testing.T) {
	for name := range backends {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := open(t, name)
			dir := t.TempDir()
			plain := filepath.Join(dir, "plain.txt")
			writeFile(t, plain, "# local list\nevil.example\n")

			var served atomic.Value
			served.Store("#\nhttp://shared.example/phish/login\n")
			srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body := served.Load().(string)
				if body == "" {
					http.Error(w, "down", http.StatusBadGateway)
					return
				}
				_, _ = w.Write([]byte(body))
			}))
			t.Cleanup(srv.Close)

			create(t, s.links, 1, "old1", "https://www.evil.example/x")
			create(t, s.links, 2, "old2", "https://shared.example/phish/login")
			create(t, s.links, 3, "fine", "https://shared.example/other")
			create(t, s.links, 4, "adm", "https://blocked.example/")
			// A custom domain's link with the code of an own host's link:
			// flagged as itself, on its domain.
			if err := s.links.Create(ctx, linkstore.Link{ID: 5, Domain: "go.acme.example", Code: "fine", URL: "https://evil.example/y",
				CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}); err != nil {
				t.Fatal(err)
			}

			admin := []string{}
			now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
			metrics := threatfeed.NewMetrics()
			r, err := threatfeed.New(new(leader.Flag), threatfeed.Config{
				Feeds: []threatfeed.Feed{
					{Name: "mine", Format: threatlist.Plain, Location: plain},
					{Name: "urlhaus", Format: threatlist.URLhaus, Location: srv.URL + "/feed.txt"},
				},
				Refresh: time.Hour,
				Admin:   func() []string { return admin },
				Store:   s.set,
				Links:   s.links,
				Client:  srv.Client(),
				Now:     func() time.Time { return now },
				Metrics: metrics,
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			snap := load(t, s.set)
			set := threatlist.NewSet(snap.Entries)
			for target, want := range map[string]string{
				"https://a.evil.example/":            "mine",
				"http://shared.example/phish/login":  "urlhaus",
				"https://shared.example/phish/other": "",
			} {
				if hit, _ := set.Match(target); hit.Source != want {
					t.Errorf("after the first refresh %s matches %q, want %q", target, hit.Source, want)
				}
			}
			assertReviews(t, s.set, map[string]string{"old1": "mine", "old2": "urlhaus", "go.acme.example/fine": "mine"})

			// The URL feed fails: its last good list stays, and the
			// admin blocklist still reaches the set (and its links).
			served.Store("")
			now = now.Add(2 * time.Hour)
			admin = []string{"Blocked.Example"}
			if err := r.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			snap2 := load(t, s.set)
			if snap2.Generation != snap.Generation+1 {
				t.Errorf("generation %d after a change, want %d", snap2.Generation, snap.Generation+1)
			}
			set = threatlist.NewSet(snap2.Entries)
			if hit, _ := set.Match("http://shared.example/phish/login"); hit.Source != "urlhaus" {
				t.Errorf("a failed read dropped the feed's entries (match %q)", hit.Source)
			}
			if hit, _ := set.Match("https://blocked.example/x"); hit.Source != threatfeed.AdminSource {
				t.Errorf("the admin blocklist is not in the set (match %q)", hit.Source)
			}
			assertReviews(t, s.set, map[string]string{"old1": "mine", "old2": "urlhaus", "go.acme.example/fine": "mine", "adm": threatfeed.AdminSource})

			reg := prometheus.NewRegistry()
			reg.MustRegister(metrics.Collectors()...)
			samples := promtest.Samples(t, reg, "shortify_cp_")
			for k, want := range map[string]float64{
				"shortify_cp_threat_feed_entries{feed=mine}":                           1,
				"shortify_cp_threat_feed_entries{feed=urlhaus}":                        1,
				"shortify_cp_threat_feed_failures_total{feed=urlhaus}":                 1,
				"shortify_cp_threat_feed_failures_total{feed=mine}":                    0,
				"shortify_cp_threat_feed_last_success_timestamp_seconds{feed=mine}":    float64(now.Unix()),
				"shortify_cp_threat_feed_last_success_timestamp_seconds{feed=urlhaus}": float64(now.Add(-2 * time.Hour).Unix()),
				"shortify_cp_links_flagged_total{}":                                    4,
			} {
				if samples[k] != want {
					t.Errorf("%s = %v, want %v", k, samples[k], want)
				}
			}

			// Nothing changed: the generation stays.
			if err := r.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
			if g := load(t, s.set).Generation; g != snap2.Generation {
				t.Errorf("generation %d after an unchanged refresh, want %d", g, snap2.Generation)
			}
		})
	}
}

// TestRunsWhileLeading checks that the refresh runs at the start of a
// leadership and not before.
func TestRunsWhileLeading(t *testing.T) {
	s := open(t, "sqlite")
	feed := filepath.Join(t.TempDir(), "feed.txt")
	writeFile(t, feed, "https://phish.example/login\n")
	lead := new(leader.Flag)
	r, err := threatfeed.New(lead, threatfeed.Config{
		Feeds: []threatfeed.Feed{{Name: "openphish", Format: threatlist.OpenPhish, Location: feed}},
		Poll:  10 * time.Millisecond,
		Store: s.set,
	})
	if err != nil {
		t.Fatal(err)
	}
	r.Start(context.Background())
	t.Cleanup(func() { _ = r.Close() })
	if g := load(t, s.set).Generation; g != 0 {
		t.Fatalf("a follower wrote generation %d", g)
	}
	lead.Set(true)
	testenv.WaitFor(t, "the leader writes the set", 10*time.Second, func() bool {
		return load(t, s.set).Generation == 1
	})
}

func load(t *testing.T, s blockset.Store) blockset.Snapshot {
	t.Helper()
	snap, err := s.Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

// assertReviews checks the flags against want, keyed by the link's code on
// the own host and by domain/code on a custom domain.
func assertReviews(t *testing.T, s blockset.Store, want map[string]string) {
	t.Helper()
	got, err := s.ListReviews(context.Background(), 100, blockset.Review{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("reviews %+v, want sources %v", got, want)
	}
	for _, r := range got {
		key := r.Code
		if r.Domain != "" {
			key = r.Domain + "/" + r.Code
		}
		if want[key] != r.Source || r.Reason == "" {
			t.Errorf("review %+v, want source %q", r, want[key])
		}
	}
}
