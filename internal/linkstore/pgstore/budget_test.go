package pgstore

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/testkit/netfault"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// TestLookupBudget: behind a proxy that delays every query, a lookup
// whose context has less time left than lookups have been taking is
// refused at once with ErrNoTime and leaves its connection in the pool,
// where a lookup with time to spare then uses it: no connection is
// closed and opened again. Without the budget the refused lookup would
// have started its query, run out of time in it and cost the pool that
// connection.
func TestLookupBudget(t *testing.T) {
	open(t, linkstore.Config{Migrate: true}) // the schema
	u, err := url.Parse(testenv.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy, err := netfault.Start(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	u.Host = proxy.Addr()
	s := open(t, linkstore.Config{DSN: u.String(), MaxConns: 1})

	const delay = 200 * time.Millisecond
	if err := proxy.Set(netfault.Fault{Delay: delay}); err != nil {
		t.Fatal(err)
	}
	for range 4 { // the clock learns that lookups take the delay
		if _, err := s.Lookup(t.Context(), "", "budget-nope"); !errors.Is(err, linkstore.ErrNotFound) {
			t.Fatalf("lookup with time: %v", err)
		}
	}
	if typical := time.Duration(s.lookups.typical.Load()); typical < delay/2 {
		t.Fatalf("lookups typically take %v by the clock, through a %v delay", typical, delay)
	}
	conns := s.reader.Stat().NewConnsCount()

	ctx, cancel := context.WithTimeout(t.Context(), delay/4)
	defer cancel()
	start := time.Now()
	_, err = s.Lookup(ctx, "", "budget-nope")
	if !errors.Is(err, ErrNoTime) {
		t.Fatalf("lookup with %v left: %v, want ErrNoTime", delay/4, err)
	}
	if took := time.Since(start); took >= delay/4 {
		t.Errorf("the refused lookup took %v: it waited instead of failing at once", took)
	}
	if _, err := s.Lookup(t.Context(), "", "budget-nope"); !errors.Is(err, linkstore.ErrNotFound) {
		t.Fatalf("lookup with time after a refused one: %v", err)
	}
	if n := s.reader.Stat().NewConnsCount(); n != conns {
		t.Errorf("the pool opened %d connections more: the refused lookup cost it its connection", n-conns)
	}
	// Other queries keep no budget: Get with the same little time runs
	// (and runs out of time in the query).
	ctx2, cancel2 := context.WithTimeout(t.Context(), delay/4)
	defer cancel2()
	if _, err := s.Get(ctx2, "", "budget-nope"); errors.Is(err, ErrNoTime) {
		t.Errorf("Get was refused by the lookups' budget: %v", err)
	}
}
