package pgstore

import (
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/linkstore/storetest"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// readAppName marks the stores' replica connections, so that the test can
// find them in the replica's pg_stat_activity.
const readAppName = "shortify-pgstore-read"

// TestStreamingReplica runs the read path against a real streaming
// replica of the test server. One replica serves the subtests, which run
// in order: each leaves it as the next expects (the last stops it).
func TestStreamingReplica(t *testing.T) {
	dsn := testenv.Database(t)
	writer := open(t, linkstore.Config{DSN: dsn, Migrate: true})
	ctx := t.Context()
	old := storetest.NewLink()
	if err := writer.Create(ctx, old); err != nil {
		t.Fatal(err)
	}

	r := testenv.StartReplica(t)
	r.WaitReplayed(t) // the schema and old are on the replica
	// Named, so that the replica's pg_stat_activity shows the stores'
	// sessions; a connect timeout a busy test machine does not reach.
	replicaDSN := withParams(t, r.DSN(t, dsn), "application_name", readAppName, "connect_timeout", "10")

	// s never leaves the rotation for lag, so that a lagging replica's
	// misses reach the primary as confirmations; tight leaves it after
	// 200 ms of lag.
	cfg := linkstore.Config{DSN: dsn, ReadDSNs: []string{replicaDSN}}
	unboundedOpts, tightOpts := fastChecks, fastChecks
	unboundedOpts.maxLag = -1
	tightOpts.maxLag = 200 * time.Millisecond
	s := openFast(t, cfg, unboundedOpts)
	tight := openFast(t, cfg, tightOpts)
	for _, st := range []*Store{s, tight} {
		waitRotation(t, st, true)
	}

	if !t.Run("reads go to the replica", func(t *testing.T) {
		before := s.ReplicaStats()
		for range 10 {
			got, err := s.Lookup(ctx, "", old.Code)
			if err != nil {
				t.Fatalf("Lookup: %v", err)
			}
			storetest.CheckLink(t, "Lookup", got, old)
		}
		after := s.ReplicaStats()
		if d := after.ReplicaHits - before.ReplicaHits; d != 10 || after.PrimaryReads != before.PrimaryReads {
			t.Errorf("10 lookups: %d replica hits, %d primary reads; want 10 and 0 (stats %+v)",
				d, after.PrimaryReads-before.PrimaryReads, after)
		}
		// The server itself says so: the store's sessions are on the
		// replica, and it is in recovery.
		var sessions int
		var inRecovery bool
		err := queryReplica(t, r.DSN(t, dsn), `SELECT count(*), pg_is_in_recovery()
FROM pg_stat_activity WHERE application_name = $1`, []any{readAppName}, &sessions, &inRecovery)
		if err != nil || sessions == 0 || !inRecovery {
			t.Errorf("replica: %d sessions named %s, in recovery %v (%v); want some, in recovery",
				sessions, readAppName, inRecovery, err)
		}
		if rs := after.Replicas[0]; !rs.InRotation || !rs.Healthy || rs.Lag > DefaultReplicaMaxLag {
			t.Errorf("replica state %+v", rs)
		}
	}) {
		return
	}

	if !t.Run("a link new to a lagging replica is found", func(t *testing.T) {
		r.PauseReplay(t)
		fresh := storetest.NewLink()
		if err := writer.Create(ctx, fresh); err != nil {
			t.Fatal(err)
		}
		// The old link's new URL is not replayed either: a lookup that
		// still sees the old URL was answered by the replica.
		newURL := "https://example.com/moved"
		if _, err := writer.Update(ctx, "", old.Code, linkstore.Update{URL: &newURL}); err != nil {
			t.Fatal(err)
		}
		before := s.ReplicaStats()
		got, err := s.Lookup(ctx, "", fresh.Code)
		if err != nil {
			t.Fatalf("Lookup of a link the lagging replica lacks: %v (want it found on the primary)", err)
		}
		storetest.CheckLink(t, "Lookup", got, fresh)
		if got, err := s.Lookup(ctx, "", old.Code); err != nil || got.URL != old.URL {
			t.Errorf("Lookup(old): %q, %v; want the replica's unreplayed %q", got.URL, err, old.URL)
		}
		if _, err := s.Lookup(ctx, "", storetest.NewCode()); !errors.Is(err, linkstore.ErrNotFound) {
			t.Errorf("Lookup(unknown): %v, want ErrNotFound", err)
		}
		after := s.ReplicaStats()
		if after.PrimaryReads != before.PrimaryReads {
			t.Errorf("the replica left the rotation during the subtest: %+v", after)
		}
		if d := after.Confirmations - before.Confirmations; d != 2 {
			t.Errorf("%d confirmations on the primary, want 2 (the new link and the unknown code)", d)
		}
		if d := after.ConfirmedFound - before.ConfirmedFound; d != 1 {
			t.Errorf("%d confirmations found, want 1 (the new link)", d)
		}
		if d := after.ReplicaHits - before.ReplicaHits; d != 1 {
			t.Errorf("%d replica hits, want 1 (the old link)", d)
		}
	}) {
		return
	}

	if !t.Run("lag takes the replica out of the rotation", func(t *testing.T) {
		// Replay is still paused, and the primary has WAL the replica
		// has not replayed: the tight store's bound is passed in 200 ms.
		start := time.Now()
		waitRotation(t, tight, false)
		t.Logf("out of the rotation %v after the check started", time.Since(start).Round(time.Millisecond))
		if rs := tight.ReplicaStats().Replicas[0]; rs.Lag <= tightOpts.maxLag || !rs.Healthy {
			t.Errorf("replica state %+v, want healthy with a lag above %v", rs, tightOpts.maxLag)
		}
		before := tight.ReplicaStats()
		if got, err := tight.Lookup(ctx, "", old.Code); err != nil || got.URL == old.URL {
			t.Errorf("Lookup(old) with the replica out: %q, %v; want the primary's new URL", got.URL, err)
		}
		if d := tight.ReplicaStats().PrimaryReads - before.PrimaryReads; d != 1 {
			t.Errorf("%d primary reads, want 1", d)
		}

		r.ResumeReplay(t)
		start = time.Now()
		waitRotation(t, tight, true)
		t.Logf("back in the rotation %v after replay resumed", time.Since(start).Round(time.Millisecond))
		if got, err := tight.Lookup(ctx, "", old.Code); err != nil || got.URL == old.URL {
			t.Errorf("Lookup(old) after catching up: %q, %v; want the new URL", got.URL, err)
		}
	}) {
		return
	}

	t.Run("a stopped replica: reads move to the primary", func(t *testing.T) {
		fresh := storetest.NewLink()
		if err := writer.Create(ctx, fresh); err != nil {
			t.Fatal(err)
		}
		stopped := time.Now()
		r.Stop(t)
		before := s.ReplicaStats()
		for i := range 20 {
			for _, l := range []linkstore.Link{old, fresh} {
				if _, err := s.Lookup(ctx, "", l.Code); err != nil {
					t.Fatalf("lookup %d after the replica stopped: %v", i, err)
				}
			}
		}
		if _, err := s.Lookup(ctx, "", storetest.NewCode()); !errors.Is(err, linkstore.ErrNotFound) {
			t.Errorf("Lookup(unknown): %v, want ErrNotFound", err)
		}
		after := s.ReplicaStats()
		if d := after.ReplicaHits - before.ReplicaHits; d != 0 {
			t.Errorf("%d replica hits after the replica stopped", d)
		}
		if d := after.PrimaryReads - before.PrimaryReads; d != 41 {
			t.Errorf("%d primary reads, want 41", d)
		}
		if rs := after.Replicas[0]; rs.InRotation || rs.Healthy || rs.Failures == 0 {
			t.Errorf("stopped replica's state %+v, want down, out of rotation, failures counted", rs)
		}
		t.Logf("41 lookups answered by the primary within %v of the stop", time.Since(stopped).Round(time.Millisecond))
	})
}

// withParams sets parameters (name, value, name, value...) on a URL-form
// DSN.
func withParams(t *testing.T, dsn string, kv ...string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// queryReplica runs one query on its own connection and scans its row.
func queryReplica(t *testing.T, dsn, sql string, args []any, dest ...any) error {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		return err
	}
	defer conn.Close(t.Context())
	return conn.QueryRow(t.Context(), sql, args...).Scan(dest...)
}
