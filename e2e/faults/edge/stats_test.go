//go:build faults

package edge

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/clickevents"
	"github.com/shortify/shortify/internal/testkit/kafkatest"
	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/stats/aggregate"
	"github.com/shortify/shortify/stats/aggregate/aggtest"
	"github.com/shortify/shortify/stats/statsdb"
	"github.com/shortify/shortify/stats/statsdb/statsdbtest"
)

// The stats role's consumer group and topic
// (deploy/caddyfiles/stats.Caddyfile).
const statsGroup, clicksTopic = "shortify-stats", "clicks"

// statsProc is a stats instance: the shortify binary with
// deploy/caddyfiles/stats.Caddyfile unchanged, as the product runs it,
// set up by its environment: it consumes the clicks topic of broker and
// writes the aggregates to the stats database DSN.
type statsProc struct {
	*proc
	dsn string
	db  *statsdb.DB // its stored offsets
}

// startStats starts a stats instance and waits for its /healthz.
func startStats(t *testing.T, broker, dsn string) *statsProc {
	t.Helper()
	ops, admin := testenv.FreeAddr(t), testenv.FreeAddr(t)
	_, port, _ := net.SplitHostPort(ops)
	p := startProc(t, "stats", t.TempDir(), testenv.Caddyfile("stats"), "http://"+ops, "http://"+admin,
		"SHORTIFY_ADMIN="+admin,
		"SHORTIFY_BIND=127.0.0.1",
		"SHORTIFY_OPS_PORT="+port,
		"SHORTIFY_KAFKA_BROKERS="+broker,
		"SHORTIFY_STATS_DATABASE_URL="+dsn)
	db, err := statsdb.Open(t.Context(), statsdb.Config{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return &statsProc{proc: p, dsn: dsn, db: db}
}

// statsCount is what the stats store counted against the clicks topic.
type statsCount struct {
	Counted    int64 // clicks in the instance-wide hourly roll-up
	Events     int   // events in the topic
	Difference int64 // Σ|stored − truth| over every aggregate row
}

// countedWithin bounds the stats instance counting the last event once
// the topic holds it.
const countedWithin = time.Minute

// waitCounted waits until the stats store's offsets reach the clicks
// topic's end offsets (every event in it counted), then compares the
// aggregate tables with the truth computed from the topic's events
// (statsdbtest.Compare fails the test on any row that differs).
func (s *statsProc) waitCounted(broker string) statsCount {
	t := s.t
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	ends, err := kafkatest.EndOffsets(ctx, broker, clicksTopic)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	parts := make([]int32, 0, len(ends))
	for p := range ends {
		parts = append(parts, p)
	}
	var last string
	testenv.WaitFor(t, "the stats store's offsets to reach the clicks topic's end", countedWithin, func() bool {
		got, err := s.db.LoadOffsets(t.Context(), statsGroup, clicksTopic, parts)
		if err != nil {
			last = err.Error()
			return false
		}
		for p, end := range ends {
			if got[p] < end {
				last = fmt.Sprintf("stored %v, want %v", got, ends)
				return false
			}
		}
		return true
	})
	if t.Failed() {
		t.Logf("stats offsets: %s", last)
	}
	recs := kafkatest.ConsumeUntil(t, broker, clicksTopic, ends)
	evs := make([]clickevents.Event, len(recs))
	for i, r := range recs {
		if err := evs[i].UnmarshalBinary(r.Value); err != nil {
			t.Fatalf("record %d/%d: %v", r.Partition, r.Offset, err)
		}
	}
	truth := aggtest.Compute(evs)
	got := statsdbtest.Read(t, s.dsn)
	statsdbtest.Compare(t, got, truth)
	out := statsCount{Events: len(evs)}
	abs := func(v int64) int64 { return max(v, -v) }
	for k, n := range truth.Clicks {
		out.Difference += abs(got.Clicks[k] - n)
	}
	for k, n := range got.Clicks {
		if _, ok := truth.Clicks[k]; !ok {
			out.Difference += n
		}
		if k.Grain == aggregate.Hour && k.Code == "" && k.Workspace == 0 {
			out.Counted += n
		}
	}
	return out
}
