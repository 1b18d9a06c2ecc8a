package domainmirror_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/domainmirror"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// stores are the two implementations, each on a database of the test's
// own, by name.
var stores = map[string]func(t *testing.T) string{
	"sqlite":   func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "links.db") },
	"postgres": func(t *testing.T) string { return testenv.Schema(t) },
}

func open(t *testing.T, dsn string) domainmirror.Store {
	t.Helper()
	s, err := domainmirror.Open(context.Background(), dsn, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
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
			acme := domainmirror.Entry{Domain: "go.acme.example", WorkspaceID: 2, Verified: true,
				RootRedirect: "https://acme.example/", NotFoundRedirect: "https://acme.example/404", RedirectStatus: 301}
			other := domainmirror.Entry{Domain: "go.other.example", WorkspaceID: 3}
			steps := []struct {
				name    string
				entries []domainmirror.Entry
				gen     int64
				changed bool
			}{
				{"first", []domainmirror.Entry{other, acme}, 1, true},
				{"same, other order", []domainmirror.Entry{acme, other}, 1, false},
				{"verified", []domainmirror.Entry{acme, {Domain: "go.other.example", WorkspaceID: 3, Verified: true}}, 2, true},
				{"deleted", []domainmirror.Entry{acme}, 3, true},
				{"settings", []domainmirror.Entry{{Domain: "go.acme.example", WorkspaceID: 2, Verified: true}}, 4, true},
				{"empty", nil, 5, true},
				{"empty again", nil, 5, false},
			}
			for _, st := range steps {
				g, changed, err := s.Replace(ctx, st.entries)
				if err != nil || g != st.gen || changed != st.changed {
					t.Fatalf("%s: Replace = %d %v %v, want %d %v", st.name, g, changed, err, st.gen, st.changed)
				}
				snap, err := s.Load(ctx)
				if err != nil || snap.Generation != st.gen {
					t.Fatalf("%s: Load = %+v, %v", st.name, snap, err)
				}
				want, _ := domainmirror.Normalize(st.entries)
				if len(snap.Entries) != len(want) {
					t.Fatalf("%s: loaded %+v, want %+v", st.name, snap.Entries, want)
				}
				for i := range want {
					if snap.Entries[i] != want[i] {
						t.Fatalf("%s: loaded %+v, want %+v", st.name, snap.Entries, want)
					}
				}
			}
			// A second store on the same database (an edge) sees it.
			if g, err := open(t, d).Generation(ctx); err != nil || g != 5 {
				t.Fatalf("Generation from a second store = %d, %v", g, err)
			}
		})
	}
}

func TestRegistry(t *testing.T) {
	r := domainmirror.NewRegistry(domainmirror.Snapshot{Generation: 7, Entries: []domainmirror.Entry{
		{Domain: "a.example", Verified: true, WorkspaceID: 2},
		{Domain: "b.example", WorkspaceID: 2},
	}})
	for _, c := range []struct {
		domain string
		found  bool
	}{{"a.example", true}, {"b.example", false}, {"c.example", false}, {"", false}} {
		if got := r.Lookup(c.domain); (got != nil) != c.found {
			t.Errorf("Lookup(%q) = %+v, want found %v", c.domain, got, c.found)
		}
	}
	if r.Len() != 1 || r.Generation() != 7 {
		t.Errorf("Len %d, Generation %d", r.Len(), r.Generation())
	}
	var none *domainmirror.Registry
	if none.Lookup("a.example") != nil || none.Len() != 0 {
		t.Error("a nil registry finds something")
	}
}

func TestWatcher(t *testing.T) {
	for name, dsn := range stores {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			d := dsn(t)
			s := open(t, d)
			w := domainmirror.Watch(domainmirror.WatcherConfig{
				Open:  func(ctx context.Context) (domainmirror.Store, error) { return domainmirror.Open(ctx, d, false) },
				Every: 10 * time.Millisecond,
			})
			t.Cleanup(w.Close)
			testenv.WaitFor(t, "the first poll", 5*time.Second, w.Loaded)
			if w.Registry().Lookup("go.acme.example") != nil {
				t.Fatal("a watcher of an empty store finds a domain")
			}
			e := domainmirror.Entry{Domain: "go.acme.example", WorkspaceID: 2, Verified: true}
			if _, _, err := s.Replace(ctx, []domainmirror.Entry{e}); err != nil {
				t.Fatal(err)
			}
			testenv.WaitFor(t, "the watcher loads the domain", 5*time.Second, func() bool {
				return w.Registry().Lookup("go.acme.example") != nil
			})
			if _, _, err := s.Replace(ctx, nil); err != nil {
				t.Fatal(err)
			}
			testenv.WaitFor(t, "the watcher drops the domain", 5*time.Second, func() bool {
				return w.Registry().Lookup("go.acme.example") == nil
			})
		})
	}
}
