package pgstore

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// TestRetireExpiredPlanUsesIndexes: RetireExpired finds expired links
// through links_expires_at_idx and deletes them by a key on code, never
// reading a whole partition, both with a backlog of expired links and
// once the cleanup has caught up (nothing expired: the case a generic
// plan gets wrong).
func TestRetireExpiredPlanUsesIndexes(t *testing.T) {
	ctx := t.Context()
	// 50,000 links: 2% expire within the first day, 10% later, the rest
	// never.
	s, base := seedExpiring(t, 50000, `CASE
	WHEN i % 50 = 0 THEN $1::timestamptz + i * interval '1 second'
	WHEN i % 10 = 1 THEN $1::timestamptz + interval '30 days' END`)
	for _, tt := range []struct {
		name string
		now  time.Time
		want []string // index name suffixes the plan must use
	}{
		{"backlog", base.Add(24 * time.Hour), []string{"_expires_at_idx", codeKey}},
		// Nothing expired: the delete may read the expiry index too.
		{"caught up", base.Add(-time.Hour), []string{"_expires_at_idx"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var plan []struct{ Plan explainNode }
			err := s.Primary().QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+sqlRetireExpired,
				pgx.QueryExecModeExec, tt.now, 500).Scan(&plan)
			if err != nil {
				t.Fatal(err)
			}
			used := map[string]bool{}
			plan[0].Plan.walk(func(n explainNode) {
				switch n.Type {
				case "Seq Scan", "Hash Join", "Hash Semi Join", "Merge Join":
					js, _ := json.MarshalIndent(plan, "", " ")
					t.Errorf("%s of %s:\n%s", n.Type, n.Relation, js)
				}
				for _, suffix := range []string{"_expires_at_idx", codeKey} {
					if indexIs(n.Index, suffix) {
						used[suffix] = true
					}
				}
			})
			for _, suffix := range tt.want {
				if !used[suffix] {
					t.Errorf("indexes used: %v, want *%s", used, suffix)
				}
			}
		})
	}
	gone, err := s.RetireExpired(ctx, base.Add(24*time.Hour), 500)
	if err != nil || len(gone) != 500 {
		t.Fatalf("RetireExpired: %d links, %v; want 500", len(gone), err)
	}
}

// BenchmarkRetireExpired measures one batch of 500 on a table of a
// million links of which a third have expired (the README's figure).
func BenchmarkRetireExpired(b *testing.B) {
	ctx := b.Context()
	// A third expire within the first 17 minutes, a third in 30 days.
	s, base := seedExpiring(b, 1000000, `CASE
	WHEN i % 3 = 0 THEN $1::timestamptz + i * interval '1 millisecond'
	WHEN i % 3 = 1 THEN $1::timestamptz + interval '30 days' END`)
	now := base.Add(24 * time.Hour)
	deleted := 0
	for b.Loop() {
		gone, err := s.RetireExpired(ctx, now, 500)
		if err != nil {
			b.Fatal(err)
		}
		deleted += len(gone)
	}
	b.ReportMetric(float64(deleted)/float64(b.N), "links/op")
}

// seedExpiring opens a store in a new schema and fills it with links 1 to
// n created at base, each expiring at the SQL expression expiry of i and
// base ($1). The table is then vacuumed and analysed so that the planner
// knows it.
func seedExpiring(tb testing.TB, n int, expiry string) (*Store, time.Time) {
	tb.Helper()
	ctx := tb.Context()
	s := open(tb, linkstore.Config{DSN: testenv.Schema(tb), Migrate: true})
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	_, err := s.Primary().Exec(ctx, `
INSERT INTO links (code, id, url, created_at, expires_at)
SELECT md5(i::text), i, 'https://x.example/' || i, $1::timestamptz,
	`+expiry+`
FROM generate_series(1, $2::int) i`, base, n)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := s.Primary().Exec(ctx, "VACUUM ANALYZE links"); err != nil {
		tb.Fatal(err)
	}
	return s, base
}
