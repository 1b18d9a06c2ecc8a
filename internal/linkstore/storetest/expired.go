package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/linkstore"
)

// RetireExpired deletes every expired link of the database, not only a
// test's own, so its tests keep to an era no other test uses: their links
// expire in 1990 and their "now" is before 2000, while every other test's
// expiries are in this century. The cases run one after the other inside
// one parallel subtest, each starting with a drain of the era.
var (
	expiredEra    = time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)
	expiredEraEnd = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
)

func testRetireExpired(t *testing.T, s linkstore.Store) {
	for _, c := range []struct {
		name string
		fn   func(t *testing.T, s linkstore.Store)
	}{
		{"Batches", testRetireExpiredBatches},
		{"Boundary", testRetireExpiredBoundary},
		{"Concurrent", testRetireExpiredConcurrent},
		{"BadLimit", testRetireExpiredBadLimit},
		{"Cancelled", testRetireExpiredCancelled},
		{"NeverReissued", testRetiredExpiredNeverReissued},
	} {
		t.Run(c.name, func(t *testing.T) {
			drainExpiredEra(t, s)
			c.fn(t, s)
		})
	}
}

// drainExpiredEra deletes what earlier cases (or runs) left in the era.
func drainExpiredEra(t *testing.T, s linkstore.Store) {
	t.Helper()
	for {
		gone, err := s.RetireExpired(t.Context(), expiredEraEnd, 1000)
		if err != nil {
			t.Fatalf("drain: %v", err)
		}
		if len(gone) == 0 {
			return
		}
	}
}

// eraLink returns a new link of the era that expires at expires (zero:
// never).
func eraLink(expires time.Time) linkstore.Link {
	l := NewLink()
	l.CreatedAt = expiredEra.Add(-24 * time.Hour)
	l.ExpiresAt = expires
	return l
}

// testRetireExpiredBatches: expired links go in batches of at most the
// limit, returned whole; links that expire later or never stay.
func testRetireExpiredBatches(t *testing.T, s linkstore.Store) {
	ctx := t.Context()
	now := expiredEra.Add(10 * time.Hour)
	expired := map[string]linkstore.Link{}
	var links, kept []linkstore.Link
	for i := range 9 {
		l := eraLink(expiredEra.Add(time.Duration(i+1) * time.Hour).Add(123456 * time.Microsecond))
		switch i {
		case 3:
			l.Disabled = true
		case 4:
			l.Status = 308
		case 5:
			l.Smart = SmartOptions()
		}
		expired[l.Code] = l
		links = append(links, l)
	}
	for range 3 {
		kept = append(kept, eraLink(expiredEra.Add(20*time.Hour)))
	}
	for range 2 {
		kept = append(kept, eraLink(time.Time{}))
	}
	createLinks(t, s, append(links, kept...))

	for batch, want := range []int{4, 4, 1, 0} {
		gone, err := s.RetireExpired(ctx, now, 4)
		if err != nil {
			t.Fatalf("batch %d: %v", batch, err)
		}
		if len(gone) != want {
			t.Fatalf("batch %d deleted %d links, want %d", batch, len(gone), want)
		}
		for _, g := range gone {
			w, ok := expired[g.Code]
			if !ok {
				t.Fatalf("batch %d deleted %q, which is not one of the expired links", batch, g.Code)
			}
			CheckLink(t, "deleted link", g, w)
			delete(expired, g.Code)
		}
	}
	if len(expired) != 0 {
		t.Fatalf("%d expired links were never deleted", len(expired))
	}
	for _, l := range links {
		if _, err := s.Get(ctx, "", l.Code); !errors.Is(err, linkstore.ErrNotFound) {
			t.Errorf("Get(%q) after its deletion: %v, want ErrNotFound", l.Code, err)
		}
	}
	for _, l := range kept {
		got, err := s.Get(ctx, "", l.Code)
		if err != nil {
			t.Fatalf("Get(%q), not expired at now: %v", l.Code, err)
		}
		CheckLink(t, "kept link", got, l)
	}

	// Later, those that expire then go too; those that never expire stay.
	gone, err := s.RetireExpired(ctx, expiredEra.Add(20*time.Hour), 100)
	if err != nil || len(gone) != 3 {
		t.Fatalf("at their expiry: deleted %d links (%v), want 3", len(gone), err)
	}
	for _, l := range kept[3:] {
		if _, err := s.Get(ctx, "", l.Code); err != nil {
			t.Errorf("Get(%q), which never expires: %v", l.Code, err)
		}
	}
}

// testRetireExpiredBoundary: a link expires at its ExpiresAt (Link.Expired
// says so), so RetireExpired at exactly that instant deletes it, and a
// microsecond before does not.
func testRetireExpiredBoundary(t *testing.T, s linkstore.Store) {
	ctx := t.Context()
	at := expiredEra.Add(time.Hour + 987654*time.Microsecond)
	l := eraLink(at)
	createLinks(t, s, []linkstore.Link{l})
	gone, err := s.RetireExpired(ctx, at.Add(-time.Microsecond), 10)
	if err != nil || len(gone) != 0 {
		t.Fatalf("a microsecond before expiry: deleted %d links (%v), want none", len(gone), err)
	}
	gone, err = s.RetireExpired(ctx, at, 10)
	if err != nil || len(gone) != 1 || gone[0].Code != l.Code {
		t.Fatalf("at expiry: deleted %+v (%v), want %q", gone, err, l.Code)
	}
	if !l.Expired(at) {
		t.Fatal("Link.Expired disagrees with RetireExpired at the boundary")
	}
}

// testRetireExpiredConcurrent: concurrent callers (a leader change while a
// batch runs) never both get the same link, and together delete them all.
func testRetireExpiredConcurrent(t *testing.T, s linkstore.Store) {
	const n, workers = 60, 4
	links := make([]linkstore.Link, n)
	for i := range links {
		links[i] = eraLink(expiredEra.Add(time.Duration(i) * time.Minute))
	}
	createLinks(t, s, links)
	now := expiredEra.Add(24 * time.Hour)
	var (
		mu   sync.Mutex
		seen = map[string]int{}
		wg   sync.WaitGroup
		errs = make(chan error, workers)
	)
	for range workers {
		wg.Go(func() {
			for {
				gone, err := s.RetireExpired(t.Context(), now, 7)
				if err != nil {
					errs <- err
					return
				}
				if len(gone) == 0 {
					return
				}
				mu.Lock()
				for _, l := range gone {
					seen[l.Code]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, l := range links {
		if seen[l.Code] != 1 {
			t.Errorf("%q was returned %d times, want once", l.Code, seen[l.Code])
		}
	}
	if len(seen) != n {
		t.Errorf("%d links returned, want %d", len(seen), n)
	}
}

func testRetireExpiredBadLimit(t *testing.T, s linkstore.Store) {
	l := eraLink(expiredEra)
	createLinks(t, s, []linkstore.Link{l})
	for _, limit := range []int{0, -1} {
		if gone, err := s.RetireExpired(t.Context(), expiredEraEnd, limit); err == nil {
			t.Errorf("limit %d: deleted %d links, want an error", limit, len(gone))
		}
	}
	if _, err := s.Get(t.Context(), "", l.Code); err != nil {
		t.Errorf("a refused RetireExpired deleted a link: %v", err)
	}
}

func testRetireExpiredCancelled(t *testing.T, s linkstore.Store) {
	l := eraLink(expiredEra)
	createLinks(t, s, []linkstore.Link{l})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.RetireExpired(ctx, expiredEraEnd, 10); !errors.Is(err, context.Canceled) {
		t.Errorf("RetireExpired: got %v, want context.Canceled", err)
	}
	if _, err := s.Get(t.Context(), "", l.Code); err != nil {
		t.Errorf("a cancelled RetireExpired deleted a link: %v", err)
	}
}
