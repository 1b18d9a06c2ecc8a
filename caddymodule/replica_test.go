package caddymodule

import (
	"context"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/linkstore/pgstore"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// TestReplicaLagNeverCachesNotFound runs the edge on a real streaming
// replica whose replay is paused: a link created on the primary after the
// pause redirects at once (the replica's miss is confirmed on the
// primary), and keeps redirecting, never a cached 404.
func TestReplicaLagNeverCachesNotFound(t *testing.T) {
	dsn := postgresDSN(t)
	r := testenv.StartReplica(t)
	r.WaitReplayed(t) // the schema is on the replica

	var store atomic.Pointer[pgstore.Store]
	open := func(ctx context.Context, cfg linkstore.Config) (linkstore.Store, error) {
		s, err := pgstore.Open(ctx, cfg)
		if err != nil {
			return nil, err
		}
		store.Store(s)
		return s, nil
	}
	// A connect timeout that a busy test machine does not reach, so that
	// the replica stays in rotation.
	u, err := url.Parse(r.DSN(t, dsn))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("connect_timeout", "10")
	u.RawQuery = q.Encode()
	replicaDSN := u.String()
	h := provision(t, &Handler{Database: dsn, ReadReplicas: []string{replicaDSN}, openStore: open})

	// A first request opens the store; then wait for the replica to join
	// the rotation, so that the lookups below reach it.
	if w, err := serve(h, "GET", "/"+newCode(t, "warmup"), nil); err != nil || w.Code != 404 {
		t.Fatalf("warm-up request: %d, %v; want 404", w.Code, err)
	}
	testenv.WaitFor(t, "the replica in rotation", 10*time.Second, func() bool {
		return store.Load().ReplicaStats().Replicas[0].InRotation
	})

	r.PauseReplay(t)
	code := newCode(t, "lagged")
	create(t, seeder(t, dsn), linkstore.Link{Code: code, URL: "https://example.com/new-on-primary"})
	before := store.Load().ReplicaStats()
	for i := range 3 {
		w, err := serve(h, "GET", "/"+code, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if w.Code != 302 || w.Header().Get("Location") != "https://example.com/new-on-primary" {
			t.Fatalf("request %d for a link the replica has not replayed: %d %q; want 302 to it",
				i, w.Code, w.Header().Get("Location"))
		}
	}
	after := store.Load().ReplicaStats()
	if d := after.ConfirmedFound - before.ConfirmedFound; d != 1 {
		t.Errorf("%d replica misses found on the primary, want 1 (one lookup, then L1); stats %+v", d, after)
	}
	if !after.Replicas[0].InRotation {
		t.Errorf("the replica left the rotation during the test: %+v; the lookup may not have reached it", after.Replicas[0])
	}
	if w, _ := serve(h, "GET", "/"+newCode(t, "nowhere"), nil); w.Code != 404 {
		t.Errorf("unknown code: %d, want 404", w.Code)
	}
}
