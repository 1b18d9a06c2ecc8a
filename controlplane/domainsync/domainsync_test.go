package domainsync_test

import (
	"context"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shortify/shortify/controlplane/domainsync"
	"github.com/shortify/shortify/controlplane/fsm"
	"github.com/shortify/shortify/controlplane/leader"
	"github.com/shortify/shortify/internal/domainmirror"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var stores = map[string]func(t *testing.T) string{
	"sqlite":   func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "links.db") },
	"postgres": func(t *testing.T) string { return testenv.Schema(t) },
}

// registry is the FSM's registry as the syncer reads it, set by the test;
// reads counts the syncer's comparisons.
type registry struct {
	mu      sync.Mutex
	domains []fsm.DomainEntry
	reads   atomic.Int64
}

func (r *registry) Workspaces() []fsm.Workspace {
	r.reads.Add(1)
	return []fsm.Workspace{{ID: 1, Name: "default"}, {ID: 2, Name: "acme"}}
}

func (r *registry) WorkspaceDomains(ws int64) []fsm.DomainEntry {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []fsm.DomainEntry
	for _, d := range r.domains {
		if d.Workspace == ws {
			out = append(out, d)
		}
	}
	return out
}

func (r *registry) set(ds ...fsm.DomainEntry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.domains = ds
}

func TestSyncer(t *testing.T) {
	for name, dsn := range stores {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			store, err := domainmirror.Open(ctx, dsn(t), true)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(store.Close)
			// A former leader left a stale row behind.
			if _, _, err := store.Replace(ctx, []domainmirror.Entry{{Domain: "stale.example", WorkspaceID: 2, Verified: true}}); err != nil {
				t.Fatal(err)
			}
			acme := fsm.DomainEntry{Domain: "go.acme.example", Workspace: 2, Verified: true,
				Settings: fsm.DomainSettings{RootRedirect: "https://acme.example/", RedirectStatus: 308}}
			reg := &registry{}
			reg.set(acme, fsm.DomainEntry{Domain: "pending.example", Workspace: 2})
			var lead leader.Flag
			s, err := domainsync.New(&lead, domainsync.Config{Registry: reg, Store: store, Interval: 10 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			s.Start(ctx)
			t.Cleanup(func() { _ = s.Close() })

			mirror := func() []domainmirror.Entry {
				snap, err := store.Load(ctx)
				if err != nil {
					t.Fatal(err)
				}
				return snap.Entries
			}
			has := func(domain string, verified bool) bool {
				for _, e := range mirror() {
					if e.Domain == domain {
						return e.Verified == verified
					}
				}
				return false
			}
			if !has("stale.example", true) {
				t.Fatal("a follower wrote the mirror")
			}
			lead.Set(true)
			testenv.WaitFor(t, "the leader writes the registry at the start of its term", 5*time.Second, func() bool {
				return len(mirror()) == 2 && has("go.acme.example", true) && has("pending.example", false)
			})
			if e := mirror()[0]; e != domainsync.EntryOf(acme) {
				t.Fatalf("mirror entry %+v, want %+v", e, domainsync.EntryOf(acme))
			}

			// Unchanged: compared, never written.
			gen, err := store.Generation(ctx)
			if err != nil {
				t.Fatal(err)
			}
			reads := reg.reads.Load()
			testenv.WaitFor(t, "more comparisons", 5*time.Second, func() bool { return reg.reads.Load() >= reads+5 })
			if g, _ := store.Generation(ctx); g != gen {
				t.Fatalf("generation moved from %d to %d with no change", gen, g)
			}

			// Deleted: gone within a second.
			reg.set(fsm.DomainEntry{Domain: "pending.example", Workspace: 2, Verified: true})
			start := time.Now()
			testenv.WaitFor(t, "the change reaches the mirror", 5*time.Second, func() bool {
				return len(mirror()) == 1 && has("pending.example", true)
			})
			if d := time.Since(start); d > time.Second {
				t.Errorf("the change took %s", d)
			}
		})
	}
}

func TestNewRequires(t *testing.T) {
	if _, err := domainsync.New(&leader.Flag{}, domainsync.Config{}); err == nil {
		t.Fatal("New without registry and store succeeded")
	}
}
