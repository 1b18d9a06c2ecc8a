package blockset_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/blockset"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/internal/threatlist"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// stores are the two implementations, each on a database of the test's
// own, by name.
var stores = map[string]func(t *testing.T) string{
	"sqlite":   func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "links.db") },
	"postgres": func(t *testing.T) string { return testenv.Schema(t) },
}

func open(t *testing.T, dsn string) blockset.Store {
	t.Helper()
	s, err := blockset.Open(context.Background(), dsn, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func src(kind threatlist.Kind, value, source string) threatlist.Sourced {
	return threatlist.Sourced{Entry: threatlist.Entry{Kind: kind, Value: value}, Source: source}
}

func TestStore(t *testing.T) {
	for name, dsn := range stores {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			d := dsn(t)
			s := open(t, d)
			if g, err := s.Generation(ctx); err != nil || g != 0 {
				t.Fatalf("Generation of a new store = %d, %v", g, err)
			}
			if snap, err := s.Load(ctx); err != nil || snap.Generation != 0 || len(snap.Entries) != 0 {
				t.Fatalf("Load of a new store = %+v, %v", snap, err)
			}
			set := []threatlist.Sourced{
				src(threatlist.Host, "evil.example", "urlhaus"),
				src(threatlist.URL, "x.test/p", "openphish"),
				src(threatlist.Host, "evil.example", "admin blocklist"),
			}
			for i, want := range []struct {
				gen     int64
				changed bool
			}{{1, true}, {1, false}} {
				g, changed, err := s.Replace(ctx, set)
				if err != nil || g != want.gen || changed != want.changed {
					t.Fatalf("Replace %d = %d %v %v, want %d %v", i, g, changed, err, want.gen, want.changed)
				}
			}
			snap, err := s.Load(ctx)
			if err != nil || snap.Generation != 1 || len(snap.Entries) != 2 {
				t.Fatalf("Load = %+v, %v", snap, err)
			}
			if hit, ok := threatlist.NewSet(snap.Entries).Match("https://a.evil.example/"); !ok || hit.Source != "urlhaus" {
				t.Fatalf("loaded set matches %+v %v", hit, ok)
			}
			// One entry gone, one new, one listed by another source now.
			next := []threatlist.Sourced{
				src(threatlist.Host, "evil.example", "plain"),
				src(threatlist.URL, "y.test/q", "openphish"),
			}
			if g, changed, err := s.Replace(ctx, next); err != nil || g != 2 || !changed {
				t.Fatalf("Replace(next) = %d %v %v", g, changed, err)
			}
			snap, err = s.Load(ctx)
			if err != nil || len(snap.Entries) != 2 {
				t.Fatalf("Load after a change = %+v, %v", snap, err)
			}
			set2 := threatlist.NewSet(snap.Entries)
			if hit, _ := set2.Match("https://evil.example/"); hit.Source != "plain" {
				t.Errorf("changed source: %+v", hit)
			}
			if _, ok := set2.Match("https://x.test/p"); ok {
				t.Error("a removed entry is still there")
			}
			if hit, _ := set2.Match("https://y.test/q"); hit.Source != "openphish" {
				t.Errorf("added entry: %+v", hit)
			}
			if g, changed, err := s.Replace(ctx, nil); err != nil || g != 3 || !changed {
				t.Fatalf("Replace(nil) = %d %v %v", g, changed, err)
			}
			if snap, err := s.Load(ctx); err != nil || len(snap.Entries) != 0 {
				t.Fatalf("Load after Replace(nil) = %+v, %v", snap, err)
			}
			// A second store on the same database (an edge) sees it.
			if g, err := open(t, d).Generation(ctx); err != nil || g != 3 {
				t.Fatalf("Generation from a second store = %d, %v", g, err)
			}
		})
	}
}

func TestReviews(t *testing.T) {
	for name, dsn := range stores {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := open(t, dsn(t))
			at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
			rs := []blockset.Review{
				{Code: "a", Reason: "r1", Source: "urlhaus", At: at},
				{Code: "b", Reason: "r2", Source: "plain", At: at.Add(time.Second)},
				{Code: "c", Reason: "r3", Source: "plain", At: at.Add(2 * time.Second)},
				// The custom domain's "a" is another link: its own flag.
				{Domain: "go.acme.example", Code: "a", Reason: "r4", Source: "lookalike", At: at},
			}
			if err := s.Flag(ctx, rs); err != nil {
				t.Fatal(err)
			}
			// A second flag of "a" keeps the first.
			if err := s.Flag(ctx, []blockset.Review{{Code: "a", Reason: "other", Source: "x", At: at}}); err != nil {
				t.Fatal(err)
			}
			own, acme := linkstore.Key{Code: "a"}, linkstore.Key{Domain: "go.acme.example", Code: "a"}
			got, err := s.Reviews(ctx, []linkstore.Key{own, acme, {Code: "zz"}, {Domain: "go.acme.example", Code: "b"}})
			if err != nil || len(got) != 2 || got[own] != rs[0] || got[acme] != rs[3] {
				t.Fatalf("Reviews = %+v, %v", got, err)
			}
			if got, err := s.Reviews(ctx, nil); err != nil || len(got) != 0 {
				t.Fatalf("Reviews(nil) = %+v, %v", got, err)
			}
			page, err := s.ListReviews(ctx, 2, blockset.Review{})
			if err != nil || len(page) != 2 || page[0].Code != "c" || page[1].Code != "b" {
				t.Fatalf("first page = %+v, %v", page, err)
			}
			// Same time: the custom domain's flag sorts before the own host's.
			page, err = s.ListReviews(ctx, 1, page[1])
			if err != nil || len(page) != 1 || page[0] != rs[3] {
				t.Fatalf("second page = %+v, %v", page, err)
			}
			page, err = s.ListReviews(ctx, 2, page[0])
			if err != nil || len(page) != 1 || page[0] != rs[0] {
				t.Fatalf("third page = %+v, %v", page, err)
			}
			if ok, err := s.Unflag(ctx, "", "a"); err != nil || !ok {
				t.Fatalf("Unflag = %v, %v", ok, err)
			}
			if ok, err := s.Unflag(ctx, "", "a"); err != nil || ok {
				t.Fatalf("second Unflag = %v, %v", ok, err)
			}
			// The custom domain's flag stays until it is unflagged itself.
			if got, err := s.Reviews(ctx, []linkstore.Key{own, acme}); err != nil || len(got) != 1 || got[acme] != rs[3] {
				t.Fatalf("Reviews after Unflag = %+v, %v", got, err)
			}
			if ok, err := s.Unflag(ctx, "go.acme.example", "a"); err != nil || !ok {
				t.Fatalf("Unflag of the custom domain's = %v, %v", ok, err)
			}
		})
	}
}

// TestWatcherOpenFails: a store that cannot be opened is reported and
// retried, and leaves the watcher without a set.
func TestWatcherOpenFails(t *testing.T) {
	errs := make(chan error, 1)
	w := blockset.Watch(blockset.WatcherConfig{
		Open:  func(context.Context) (blockset.Store, error) { return nil, errors.New("database down") },
		Every: 10 * time.Millisecond,
		OnError: func(err error) {
			select {
			case errs <- err:
			default:
			}
		},
	})
	t.Cleanup(w.Close)
	if err := testenv.Receive(t, errs, 5*time.Second, "the failure is reported"); err.Error() != "database down" {
		t.Fatalf("error %v", err)
	}
	if w.Set() != nil {
		t.Fatal("a watcher that never loaded has a set")
	}
	w.Close()
	w.Close() // idempotent
}

func TestWatcher(t *testing.T) {
	for name, dsn := range stores {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			d := dsn(t)
			s := open(t, d)
			w := blockset.Watch(blockset.WatcherConfig{
				Open:  func(ctx context.Context) (blockset.Store, error) { return blockset.Open(ctx, d, false) },
				Every: 10 * time.Millisecond,
			})
			t.Cleanup(w.Close)
			if w.Set() != nil {
				t.Fatal("a watcher of an empty store has a set")
			}
			if _, _, err := s.Replace(ctx, []threatlist.Sourced{src(threatlist.Host, "evil.example", "plain")}); err != nil {
				t.Fatal(err)
			}
			testenv.WaitFor(t, "the watcher loads the set", 5*time.Second, func() bool {
				_, ok := w.Set().Match("https://evil.example/")
				return ok
			})
			if _, _, err := s.Replace(ctx, nil); err != nil {
				t.Fatal(err)
			}
			testenv.WaitFor(t, "the watcher drops the set", 5*time.Second, func() bool { return w.Set() == nil })
		})
	}
}

// A poke reloads the set at once, not at the next tick (an hour here).
func TestWatcherPoke(t *testing.T) {
	ctx := context.Background()
	d := stores["sqlite"](t)
	s := open(t, d)
	w := blockset.Watch(blockset.WatcherConfig{
		Open:  func(ctx context.Context) (blockset.Store, error) { return blockset.Open(ctx, d, false) },
		Every: time.Hour,
	})
	t.Cleanup(w.Close)
	// The first set may come with the poll at start or with the poke; the
	// second only with its poke.
	for _, host := range []string{"evil.example", "worse.example"} {
		if _, _, err := s.Replace(ctx, []threatlist.Sourced{src(threatlist.Host, host, "plain")}); err != nil {
			t.Fatal(err)
		}
		w.Poke()
		w.Poke() // a second poke while one is pending is not queued twice
		testenv.WaitFor(t, "the poked watcher loads "+host, 5*time.Second, func() bool {
			_, ok := w.Set().Match("https://" + host + "/")
			return ok
		})
	}
}
