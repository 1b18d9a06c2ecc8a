package caddymodule

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/shortify/shortify/internal/domainmirror"
	"github.com/shortify/shortify/internal/l2cache"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/linkstore/backend"
	"github.com/shortify/shortify/internal/linkstore/pgstore"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// backendCase names a real store for tests that run against both.
type backendCase struct {
	name string
	dsn  func(tb testing.TB) string // a DSN with the schema in place
}

var backends = []backendCase{
	{"sqlite", sqliteDSN},
	{"postgres", postgresDSN},
}

// sqliteDSN returns the DSN of a fresh SQLite file for this test.
func sqliteDSN(tb testing.TB) string {
	return "sqlite://" + filepath.Join(tb.TempDir(), "links.db")
}

// seededDSN returns the DSN of a new SQLite file that holds links.
func seededDSN(tb testing.TB, links ...linkstore.Link) string {
	tb.Helper()
	dsn := sqliteDSN(tb)
	create(tb, seeder(tb, dsn), links...)
	return dsn
}

var migrateOnce sync.Once

// postgresDSN returns this package's PostgreSQL database, migrated once.
// Tests share it, so they use codes of their own (newCode).
func postgresDSN(tb testing.TB) string {
	tb.Helper()
	dsn := testenv.Database(tb)
	var err error
	migrateOnce.Do(func() {
		var s *pgstore.Store
		s, err = pgstore.Open(context.Background(), linkstore.Config{DSN: dsn, Migrate: true})
		if err == nil {
			s.Close()
		}
		// The custom-domain mirror's tables too, as the control plane
		// makes them: without them an edge's readiness waits for
		// warm_timeout (domains.go), whichever test made them first.
		if err == nil {
			var m domainmirror.Store
			if m, err = domainmirror.Open(context.Background(), dsn, true); err == nil {
				m.Close()
			}
		}
	})
	if err != nil {
		tb.Fatalf("migrate: %v", err)
	}
	return dsn
}

// seeder opens its own store on dsn (as the control plane would) to create
// links for a test.
func seeder(tb testing.TB, dsn string) linkstore.Store {
	tb.Helper()
	s, err := backend.Open(context.Background(), linkstore.Config{DSN: dsn, Migrate: true})
	if err != nil {
		tb.Fatalf("open seeding store: %v", err)
	}
	tb.Cleanup(s.Close)
	return s
}

func create(tb testing.TB, s linkstore.Store, links ...linkstore.Link) {
	tb.Helper()
	for i, l := range links {
		if l.ID == 0 {
			l.ID = time.Now().UnixNano() + int64(i)
		}
		if l.CreatedAt.IsZero() {
			l.CreatedAt = time.Now().UTC()
		}
		if err := s.Create(context.Background(), l); err != nil {
			tb.Fatalf("create %s: %v", l.Code, err)
		}
	}
}

// newCode returns a code no other test uses (the PostgreSQL database is
// shared by the package's tests), starting with tag for readable failures.
func newCode(tb testing.TB, tag string) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		tb.Fatal(err)
	}
	return tag + "-" + hex.EncodeToString(b[:])
}

// countingStore wraps a real store and counts the lookups that reach it.
type countingStore struct {
	linkstore.Store
	lookups atomic.Int64
	batches atomic.Int64 // LookupMany calls (warm_store_test.go)
}

func (s *countingStore) Lookup(ctx context.Context, domain, code string) (linkstore.Link, error) {
	s.lookups.Add(1)
	return s.Store.Lookup(ctx, domain, code)
}

// counting returns an opener for Handler.openStore that wraps the real
// store in a countingStore, and the pointer to read the count from once
// the store has been opened.
func counting() (storeOpener, *atomic.Pointer[countingStore]) {
	var p atomic.Pointer[countingStore]
	return func(ctx context.Context, cfg linkstore.Config) (linkstore.Store, error) {
		s, err := backend.Open(ctx, cfg)
		if err != nil {
			return nil, err
		}
		cs := &countingStore{Store: s}
		p.Store(cs)
		return cs, nil
	}, &p
}

func lookups(p *atomic.Pointer[countingStore]) int64 {
	if cs := p.Load(); cs != nil {
		return cs.lookups.Load()
	}
	return 0
}

// fakeClock is an otter.Clock that tests move by hand. It delivers no
// ticks, so otter does without periodic clean-up: expired entries are
// still invisible to reads.
type fakeClock struct{ nanos atomic.Int64 }

func newFakeClock() *fakeClock {
	c := new(fakeClock)
	c.nanos.Store(time.Now().UnixNano())
	return c
}

func (c *fakeClock) NowNano() int64                      { return c.nanos.Load() }
func (c *fakeClock) Tick(time.Duration) <-chan time.Time { return nil }
func (c *fakeClock) Now() time.Time                      { return time.Unix(0, c.nanos.Load()) }
func (c *fakeClock) Advance(d time.Duration)             { c.nanos.Add(int64(d)) }

// provision provisions h as Caddy would and cleans it up after the test.
// The pool keys get the test's name (unless keySalt is set), so that tests
// never share resources.
func provision(tb testing.TB, h *Handler) *Handler {
	tb.Helper()
	if h.keySalt == "" {
		h.keySalt = tb.Name()
	}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	tb.Cleanup(func() {
		if err := h.Cleanup(); err != nil {
			tb.Errorf("Cleanup: %v", err)
		}
		cancel()
	})
	if err := h.Provision(ctx); err != nil {
		tb.Fatalf("Provision: %v", err)
	}
	if err := h.Validate(); err != nil {
		tb.Fatalf("Validate: %v", err)
	}
	return h
}

// nextHandler records whether the request was passed on, and answers 299
// so that tests can tell its answers apart.
type nextHandler struct{ calls atomic.Int64 }

func (n *nextHandler) ServeHTTP(w http.ResponseWriter, _ *http.Request) error {
	n.calls.Add(1)
	w.WriteHeader(299)
	return nil
}

var _ caddyhttp.Handler = (*nextHandler)(nil)

// serve runs one request through h and returns the recorded answer and the
// handler error.
func serve(h *Handler, method, target string, next caddyhttp.Handler) (*httptest.ResponseRecorder, error) {
	if next == nil {
		next = new(nextHandler)
	}
	w := httptest.NewRecorder()
	r := httptest.NewRequest(method, target, nil)
	err := h.ServeHTTP(w, r, next)
	return w, err
}

// isClosed reports whether Destruct has run.
func (s *lazyStore) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Load returns the counter's value, for tests that count what happened.
func (c counter) Load() uint64 { return uint64(testutil.ToFloat64(c.Counter)) }

// controlPlaneL2 is the Redis L2 as the control plane writes it (the
// edges' prefix), on a client closed when the test ends.
func controlPlaneL2(tb testing.TB, redisAddr, prefix string) *l2cache.Cache {
	tb.Helper()
	client, err := l2cache.NewClient(redisAddr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = client.Close() })
	return l2cache.New(client, prefix, time.Hour)
}
