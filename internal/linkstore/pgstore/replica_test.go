package pgstore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/linkstore/storetest"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// fastChecks are read-path options for tests: checks every 20 ms, so
// that a replica's state follows within a few milliseconds, and a timeout
// long enough that a busy test machine does not fail a check.
var fastChecks = options{maxLag: DefaultReplicaMaxLag, checkInterval: 20 * time.Millisecond, checkTimeout: 10 * time.Second}

// openFast opens a store with fastChecks (or o when given) on this
// package's database and closes it when the test ends.
func openFast(tb testing.TB, cfg linkstore.Config, o ...options) *Store {
	tb.Helper()
	if cfg.DSN == "" {
		cfg.DSN = testenv.Database(tb)
	}
	opts := fastChecks
	if len(o) > 0 {
		opts = o[0]
	}
	s, err := openWith(context.Background(), cfg, opts)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(s.Close)
	return s
}

// waitFor polls cond until it holds, failing the test after a deadline.
func waitFor(tb testing.TB, what string, within time.Duration, cond func() bool) {
	tb.Helper()
	testenv.WaitFor(tb, what, within, cond)
}

// inRotation reports, per replica, whether it is in rotation.
func inRotation(s *Store) []bool {
	var in []bool
	for _, r := range s.ReplicaStats().Replicas {
		in = append(in, r.InRotation)
	}
	return in
}

// waitRotation waits until the replicas' rotation flags are want.
func waitRotation(tb testing.TB, s *Store, want ...bool) {
	tb.Helper()
	waitFor(tb, "replicas in rotation "+boolsString(want), 10*time.Second, func() bool {
		got := inRotation(s)
		for i := range want {
			if got[i] != want[i] {
				return false
			}
		}
		return true
	})
}

func boolsString(bs []bool) string {
	b := make([]byte, len(bs))
	for i, v := range bs {
		b[i] = '-'
		if v {
			b[i] = '+'
		}
	}
	return string(b)
}

// replicaSchema makes a stand-in replica: a schema of its own on the
// primary's server (not in recovery, so its lag counts as 0) with a plain
// copy of the links table, holding only the links given. (A copy, not the
// migrations: a partitioned table costs seconds to create.) The streaming
// tests use a real replica.
func replicaSchema(t *testing.T, links ...linkstore.Link) string {
	t.Helper()
	open(t, linkstore.Config{Migrate: true}) // public.links, to copy
	dsn := testenv.Schema(t)
	s := open(t, linkstore.Config{DSN: dsn})
	if _, err := s.Primary().Exec(t.Context(), "CREATE TABLE links (LIKE public.links INCLUDING ALL)"); err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		if err := s.Create(t.Context(), l); err != nil {
			t.Fatal(err)
		}
	}
	return dsn
}

// TestConformanceViaReplica runs the suite with a read DSN that points at
// the primary's database: once the replica is in rotation, every Lookup
// goes through the replica path.
func TestConformanceViaReplica(t *testing.T) {
	dsn := testenv.Database(t)
	storetest.Run(t, func(t *testing.T) linkstore.Store {
		s := openFast(t, linkstore.Config{DSN: dsn, ReadDSNs: []string{dsn}, Migrate: true})
		waitRotation(t, s, true)
		return s
	})
}

func TestLookupPrefersReplicaAndConfirmsMisses(t *testing.T) {
	ctx := t.Context()
	onBoth := storetest.NewLink()
	onReplica := onBoth
	onReplica.URL = "https://replica.example/"
	replicaDSN := replicaSchema(t, onReplica)
	s := openFast(t, linkstore.Config{ReadDSNs: []string{replicaDSN}, Migrate: true})
	waitRotation(t, s, true)

	onPrimaryOnly := storetest.NewLink() // not replicated yet
	for _, l := range []linkstore.Link{onBoth, onPrimaryOnly} {
		if err := s.Create(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Lookup(ctx, "", onBoth.Code)
	if err != nil || got.URL != onReplica.URL {
		t.Errorf("Lookup: got %q, %v; want the replica's %q", got.URL, err, onReplica.URL)
	}
	if got, err := s.Get(ctx, "", onBoth.Code); err != nil || got.URL != onBoth.URL {
		t.Errorf("Get: got %q, %v; want the primary's %q", got.URL, err, onBoth.URL)
	}
	got, err = s.Lookup(ctx, "", onPrimaryOnly.Code)
	if err != nil {
		t.Fatalf("Lookup of a link the replica lacks: %v", err)
	}
	storetest.CheckLink(t, "Lookup confirmed on the primary", got, onPrimaryOnly)
	if _, err := s.Lookup(ctx, "", storetest.NewCode()); !errors.Is(err, linkstore.ErrNotFound) {
		t.Errorf("Lookup(unknown): got %v, want ErrNotFound", err)
	}
	st := s.ReplicaStats()
	want := ReplicaStats{ReplicaHits: 1, Confirmations: 2, ConfirmedFound: 1}
	if st.ReplicaHits != want.ReplicaHits || st.PrimaryReads != want.PrimaryReads ||
		st.Confirmations != want.Confirmations || st.ConfirmedFound != want.ConfirmedFound {
		t.Errorf("stats %+v, want %+v", st, want)
	}
	if r := st.Replicas[0]; !r.InRotation || !r.Healthy || r.Failures != 0 || r.Lag != 0 {
		t.Errorf("replica state %+v, want healthy, in rotation, no failures, no lag", r)
	}
}

func TestLookupRoundRobin(t *testing.T) {
	l := storetest.NewLink()
	a, b := l, l
	a.URL = "https://a.example/"
	b.URL = "https://b.example/"
	s := openFast(t, linkstore.Config{ReadDSNs: []string{replicaSchema(t, a), replicaSchema(t, b)}})
	waitRotation(t, s, true, true)
	seen := map[string]int{}
	for range 10 {
		got, err := s.Lookup(t.Context(), "", l.Code)
		if err != nil {
			t.Fatal(err)
		}
		seen[got.URL]++
	}
	if seen[a.URL] != 5 || seen[b.URL] != 5 {
		t.Errorf("10 lookups over two replicas: %v, want 5 each", seen)
	}
	if st := s.ReplicaStats(); st.ReplicaHits != 10 || st.PrimaryReads != 0 {
		t.Errorf("stats %+v, want 10 replica hits", st)
	}
}

// TestLookupSkipsUnreachableReplica: of two replicas, the one that never
// answers stays out of the rotation and the other takes every lookup.
func TestLookupSkipsUnreachableReplica(t *testing.T) {
	l := storetest.NewLink()
	up := l
	up.URL = "https://up.example/"
	s := openFast(t, linkstore.Config{ReadDSNs: []string{
		"postgres://postgres@127.0.0.1:1/nowhere?sslmode=disable",
		replicaSchema(t, up),
	}})
	waitRotation(t, s, false, true)
	waitFor(t, "a failed check of the unreachable replica", 5*time.Second, func() bool {
		return s.ReplicaStats().Replicas[0].Failures > 0
	})
	for range 4 {
		if got, err := s.Lookup(t.Context(), "", l.Code); err != nil || got.URL != up.URL {
			t.Fatalf("Lookup: %q, %v; want the reachable replica's %q", got.URL, err, up.URL)
		}
	}
	if st := s.ReplicaStats(); st.ReplicaHits != 4 || st.Replicas[0].Healthy {
		t.Errorf("stats %+v, want 4 replica hits and replica 0 unhealthy", st)
	}
}

// TestLookupFallsBackFromFailingReplica: a replica that fails a lookup is
// taken out of the rotation at once, the lookup answers from the primary,
// and the next successful check puts the replica back.
func TestLookupFallsBackFromFailingReplica(t *testing.T) {
	ctx := t.Context()
	l := storetest.NewLink()
	onReplica := l
	onReplica.URL = "https://replica.example/"
	// Checks once an hour: only the first check (at start) runs during
	// the test, so the failure's effect is seen before any recovery.
	slow := fastChecks
	slow.checkInterval = time.Hour
	s := openFast(t, linkstore.Config{ReadDSNs: []string{replicaSchema(t, onReplica)}, Migrate: true}, slow)
	if err := s.Create(ctx, l); err != nil {
		t.Fatal(err)
	}
	waitRotation(t, s, true)

	// Break the replica's lookups but not its checks: drop its table.
	if _, err := s.replicas[0].pool.Exec(ctx, "DROP TABLE links"); err != nil {
		t.Fatal(err)
	}
	got, err := s.Lookup(ctx, "", l.Code)
	if err != nil {
		t.Fatalf("Lookup with a failing replica: %v", err)
	}
	storetest.CheckLink(t, "Lookup from the primary", got, l)
	st := s.ReplicaStats()
	if r := st.Replicas[0]; r.InRotation || r.Healthy || r.Failures != 1 {
		t.Errorf("replica after a failed lookup: %+v, want out of rotation with 1 failure", r)
	}
	if st.PrimaryReads != 1 || st.ReplicaHits != 0 {
		t.Errorf("stats %+v, want 1 primary read", st)
	}
	if _, err := s.Lookup(ctx, "", storetest.NewCode()); !errors.Is(err, linkstore.ErrNotFound) {
		t.Errorf("Lookup(unknown): got %v, want ErrNotFound", err)
	}
	if n := s.ReplicaStats().Replicas[0].Failures; n != 1 {
		t.Errorf("a replica out of rotation was tried again: %d failures", n)
	}

	// One check later the replica answers again and is back.
	var lt lagTracker
	s.check(ctx, s.replicas[0], &lt, slow)
	if r := s.ReplicaStats().Replicas[0]; !r.InRotation || !r.Healthy {
		t.Errorf("replica after a good check: %+v, want back in rotation", r)
	}
}

func TestLookupCancelledKeepsReplicaUp(t *testing.T) {
	dsn := testenv.Database(t)
	s := openFast(t, linkstore.Config{DSN: dsn, ReadDSNs: []string{dsn}, Migrate: true})
	waitRotation(t, s, true)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Lookup(ctx, "", storetest.NewCode()); !errors.Is(err, context.Canceled) {
		t.Errorf("Lookup: got %v, want context.Canceled", err)
	}
	if r := s.ReplicaStats().Replicas[0]; !r.InRotation || r.Failures != 0 {
		t.Errorf("a cancelled lookup took the replica out: %+v", r)
	}
}

// TestCloseStopsChecks: Close returns only after the check goroutines
// have ended, and no check runs after it.
func TestCloseStopsChecks(t *testing.T) {
	dsn := testenv.Database(t)
	s, err := openWith(t.Context(), linkstore.Config{DSN: dsn, ReadDSNs: []string{dsn, dsn}}, fastChecks)
	if err != nil {
		t.Fatal(err)
	}
	waitRotation(t, s, true, true)
	done := make(chan struct{})
	go func() {
		s.Close()
		s.Close() // twice is fine
		close(done)
	}()
	testenv.Receive(t, done, 10*time.Second, "Close did not return")
	// Wait returns at once: every goroutine that Add counted has ended.
	s.checks.Wait()
}

func TestLagTracker(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	var lt lagTracker

	// Before the replica has reached any sample, the lag is unknown.
	lt.sample(at(0), 100)
	if lag, known := lt.lag(at(0), 90); known || lag != 0 {
		t.Errorf("behind the first sample: %v, %v; want unknown", lag, known)
	}
	lt.sample(at(1), 200)
	if lag, known := lt.lag(at(1), 100); !known || lag != 0 {
		// Replayed sample 1 (100) but not sample 2 (200, taken now).
		t.Errorf("caught up to the first sample: %v, %v; want 0, known", lag, known)
	}
	// The replica stops replaying while the primary moves on.
	lt.sample(at(2), 300)
	lt.sample(at(3), 400)
	if lag, known := lt.lag(at(3).Add(500*time.Millisecond), 150); !known || lag != 2500*time.Millisecond {
		t.Errorf("paused replica: %v, %v; want 2.5s (the age of the 200 sample)", lag, known)
	}
	// It resumes and reaches the newest sample: no lag.
	if lag, _ := lt.lag(at(4), 400); lag != 0 {
		t.Errorf("caught up: %v, want 0", lag)
	}
	// An idle primary (the same position) keeps a caught-up replica at 0.
	lt.sample(at(5), 400)
	if lag, known := lt.lag(at(6), 400); !known || lag != 0 {
		t.Errorf("idle primary: %v, %v; want 0", lag, known)
	}
	// The window is bounded; the lag saturates at its age.
	for i := range 3 * lagWindow {
		lt.sample(at(10+i), int64(1000+i))
	}
	if len(lt.samples) != lagWindow {
		t.Errorf("%d samples kept, want %d", len(lt.samples), lagWindow)
	}
	now := at(10 + 3*lagWindow)
	if lag, _ := lt.lag(now, 500); lag != time.Duration(lagWindow)*time.Second {
		t.Errorf("saturated lag %v, want %v", lag, time.Duration(lagWindow)*time.Second)
	}
	lt.reset()
	lt.sample(now, 5000)
	if _, known := lt.lag(now, 4000); known {
		t.Errorf("after reset, the lag is known before the replica reached a sample")
	}
}
