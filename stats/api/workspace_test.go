package api_test

import (
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/clickevents"
	"github.com/shortify/shortify/stats/aggregate"
	"github.com/shortify/shortify/stats/api"
	"github.com/shortify/shortify/stats/statsdb"
	"github.com/shortify/shortify/stats/statsdb/statsdbtest"
)

// wsLink is a link of the workspace test, with its clicks: each from
// Country, each in its own hour of the day of now.
type wsLink struct {
	code      string
	id        int64
	workspace int64
	country   string
	clicks    int
}

// wsLinks are three workspaces' links; workspace 2's and 3's codes and
// countries differ, so that one's answers cannot hide the other's.
var wsLinks = []wsLink{
	{"dflt", 101, 1, "FR", 1},
	{"two-a", 201, 2, "JP", 4},
	{"two-b", 202, 2, "JP", 2},
	{"three", 301, 3, "DE", 3},
}

// writeWorkspaceClicks counts wsLinks' clicks through the ingest's write
// path (aggregate, statsdb), in one transaction as the ingest does.
func writeWorkspaceClicks(t *testing.T, dsn string) {
	t.Helper()
	b := aggregate.NewBatch()
	day := now.Truncate(24 * time.Hour)
	for _, l := range wsLinks {
		for i := range l.clicks {
			e := clickevents.Event{Time: day.Add(time.Duration(i) * time.Hour), Code: l.code, LinkID: l.id, Status: 302,
				Visitor: uint64(l.id*10 + int64(i)), Country: l.country, UserAgent: "Mozilla/5.0 Firefox/140.0", Workspace: l.workspace}
			b.Add(&e)
		}
	}
	db, err := statsdb.Open(t.Context(), statsdb.Config{DSN: dsn, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Write(t.Context(), &statsdb.Batch{Group: "g", Rows: b.Rows(),
		Offsets: []statsdb.Offset{{Topic: "clicks", Expected: statsdb.NoOffset, Next: 1}}}); err != nil {
		t.Fatal(err)
	}
}

// TestWorkspaceViews: a workspace's view of the store reads its own
// roll-up, top links, dimensions and links only; workspace 2's clicks
// never appear in workspace 3's answers, and the instance-wide store
// still answers with everything, each click once.
func TestWorkspaceViews(t *testing.T) {
	t.Parallel()
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			e := setup(t, backend)
			writeWorkspaceClicks(t, e.dsn)
			from, to := now.Truncate(24*time.Hour), now.Truncate(24*time.Hour).Add(24*time.Hour)
			for _, c := range []struct {
				ws      int64 // 0: the instance-wide store
				clicks  int64
				links   []string
				country map[string]int64
			}{
				{0, 10, []string{"two-a", "three", "two-b", "dflt"}, map[string]int64{"JP": 6, "DE": 3, "FR": 1}},
				{1, 1, []string{"dflt"}, map[string]int64{"FR": 1}},
				{2, 6, []string{"two-a", "two-b"}, map[string]int64{"JP": 6}},
				{3, 3, []string{"three"}, map[string]int64{"DE": 3}},
				{4, 0, []string{}, map[string]int64{}},
			} {
				s := e.store
				if c.ws != 0 {
					s = e.store.Workspace(c.ws)
				}
				for _, g := range []api.Granularity{api.Hour, api.Day} {
					rows, err := s.Buckets(t.Context(), g, "", 0, from, to)
					if err != nil {
						t.Fatal(err)
					}
					var sum int64
					for _, r := range rows {
						sum += r.Clicks
					}
					if sum != c.clicks {
						t.Errorf("workspace %d, %v roll-up: %d clicks, want %d", c.ws, g, sum, c.clicks)
					}
				}
				top, err := s.TopLinks(t.Context(), api.Day, from, to, api.AllTraffic, 10)
				if err != nil {
					t.Fatal(err)
				}
				var codes []string
				for _, l := range top {
					codes = append(codes, l.Code)
				}
				if len(codes) != len(c.links) || (len(codes) > 0 && !slices.Equal(codes, c.links)) {
					t.Errorf("workspace %d top links %v, want %v", c.ws, codes, c.links)
				}
				dims, err := s.Top(t.Context(), api.Day, "", 0, "country", from, to, api.AllTraffic, 10)
				if err != nil {
					t.Fatal(err)
				}
				got := map[string]int64{}
				for _, d := range dims {
					got[d.Value] = d.Humans + d.Bots
				}
				if len(got) != len(c.country) {
					t.Errorf("workspace %d countries %v, want %v", c.ws, got, c.country)
				}
				for k, v := range c.country {
					if got[k] != v {
						t.Errorf("workspace %d countries %v, want %v", c.ws, got, c.country)
					}
				}
			}
			// A link of workspace 2 does not exist for workspace 3.
			three := e.store.Workspace(3)
			if id, err := three.LatestLinkID(t.Context(), api.Day, "two-a"); err != nil || id != 0 {
				t.Errorf("workspace 3 finds workspace 2's link: %d, %v", id, err)
			}
			if rows, err := three.Buckets(t.Context(), api.Day, "two-a", 201, from, to); err != nil || len(rows) != 0 {
				t.Errorf("workspace 3 reads workspace 2's link: %v, %v", rows, err)
			}
			if id, err := e.store.Workspace(2).LatestLinkID(t.Context(), api.Day, "two-a"); err != nil || id != 201 {
				t.Errorf("workspace 2's own link: %d, %v; want 201", id, err)
			}
			if id, err := e.store.LatestLinkID(t.Context(), api.Day, "two-a"); err != nil || id != 201 {
				t.Errorf("the instance-wide store: link %d, %v; want 201", id, err)
			}
			if err := three.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := e.store.LatestLinkID(t.Context(), api.Day, "two-a"); err != nil {
				t.Errorf("a view's Close closed the store: %v", err)
			}
		})
	}
}

// TestWorkspaceTopLinksPlan: on PostgreSQL a workspace's top links read its
// links' rows through the (workspace_id, bucket) index, not every link's.
func TestWorkspaceTopLinksPlan(t *testing.T) {
	t.Parallel()
	e := setup(t, "postgres")
	e.exec(`INSERT INTO clicks_daily (bucket, code, link_id, bot, clicks, workspace_id)
		SELECT $1::timestamptz, 'z' || i, i, false, 1, 1 + i % 50 FROM generate_series(1, 20000) i`, now.Truncate(24*time.Hour))
	e.exec(`ANALYZE clicks_daily`)
	stmt, args := api.TopLinksSQL(3, "clicks_daily")
	plan := statsdbtest.Plan(t, e.db, stmt, append([]any{now.Add(-30 * 24 * time.Hour), now, 10}, args...)...)
	// The month with the rows (November); October's partition is empty,
	// which the planner reads with a scan of nothing.
	if !strings.Contains(plan, "clicks_daily_y2026m11_workspace_id_bucket") ||
		strings.Contains(plan, "Seq Scan on clicks_daily_y2026m11") {
		t.Errorf("a workspace's top links do not read through its index:\n%s", plan)
	}
}
