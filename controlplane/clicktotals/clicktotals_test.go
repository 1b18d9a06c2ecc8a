package clicktotals_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shortify/shortify/controlplane/clicktotals"
	"github.com/shortify/shortify/controlplane/leader"
	"github.com/shortify/shortify/internal/clickevents"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/linkstore/storetest"
	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/internal/testkit/teststore"
	"github.com/shortify/shortify/stats/aggregate"
	statsapi "github.com/shortify/shortify/stats/api"
	"github.com/shortify/shortify/stats/partitions"
	"github.com/shortify/shortify/stats/statsdb"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// env is a link store and a stats database of one backend, written by the
// stats writer (statsdb) as the ingest writes them.
type env struct {
	links   linkstore.Store
	stats   *statsdb.DB
	source  *countingSource
	offset  atomic.Int64 // the next Kafka offset of the fake partition
	backend string
}

func newEnv(t *testing.T, backend string) *env {
	t.Helper()
	e := &env{backend: backend}
	var statsDSN string
	switch backend {
	case "postgres":
		statsDSN = testenv.Schema(t)
		e.links = teststore.Postgres(t, testenv.Schema(t))
	case "sqlite":
		statsDSN = "sqlite://" + filepath.Join(t.TempDir(), "stats.db")
		e.links = teststore.SQLite(t)
	}
	m, err := partitions.Open(t.Context(), partitions.Config{DSN: statsDSN, Migrate: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.EnsureAhead(t.Context(), time.Now().UTC().AddDate(0, -2, 0), 4); err != nil {
		t.Fatal(err)
	}
	m.Close()
	if e.stats, err = statsdb.Open(t.Context(), statsdb.Config{DSN: statsDSN, Logger: slog.New(slog.DiscardHandler)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.stats.Close() })
	reader, err := statsapi.OpenTotals(t.Context(), statsDSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reader.Close() })
	e.source = &countingSource{TotalsReader: reader}
	return e
}

// click is n clicks of a link at a time, by humans or bots.
type click struct {
	link linkstore.Link
	at   time.Time
	n    int
	bot  bool
}

// write counts clicks through the ingest's write path, in one batch.
func (e *env) write(t *testing.T, clicks ...click) {
	t.Helper()
	b := aggregate.NewBatch()
	for _, c := range clicks {
		for i := range c.n {
			ev := clickevents.Event{Time: c.at, Code: c.link.Code, LinkID: c.link.ID, Status: 302, Bot: c.bot,
				Visitor: uint64(i + 1), UserAgent: "Mozilla/5.0 Firefox/140.0", Workspace: c.link.WorkspaceID}
			b.Add(&ev)
		}
	}
	off := e.offset.Add(1)
	expected := off - 1
	if expected == 0 {
		expected = statsdb.NoOffset
	}
	if err := e.stats.Write(t.Context(), &statsdb.Batch{Group: "g", Rows: b.Rows(),
		Offsets: []statsdb.Offset{{Topic: "clicks", Expected: expected, Next: off}}}); err != nil {
		t.Fatal(err)
	}
}

// newLinks creates n links in a workspace of their own.
func (e *env) newLinks(t *testing.T, n int) []linkstore.Link {
	t.Helper()
	ws := 1 + time.Now().UnixNano()%1_000_000 // a small positive workspace ID (the stats schema checks > 0)
	links := make([]linkstore.Link, n)
	for i := range links {
		links[i] = storetest.NewLink()
		links[i].ID = links[i].ID&(1<<52-1) + 1
		links[i].WorkspaceID = ws
	}
	for i, err := range e.links.CreateMany(t.Context(), links) {
		if err != nil {
			t.Fatalf("link %d: %v", i, err)
		}
	}
	return links
}

// totals reads the links' clicks and humans.
func (e *env) totals(t *testing.T, links []linkstore.Link) [][2]int64 {
	t.Helper()
	out := make([][2]int64, len(links))
	for i, l := range links {
		got, err := e.links.Get(t.Context(), l.Domain, l.Code)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = [2]int64{got.Clicks, got.ClicksHumans}
	}
	return out
}

// countingSource records which links the job sums.
type countingSource struct {
	statsapi.TotalsReader
	mu     sync.Mutex
	summed []statsapi.StatsLink
	calls  atomic.Int64
}

func (c *countingSource) RecentBuckets(ctx context.Context, since time.Time, fn func(statsapi.LinkBucket) error) error {
	c.calls.Add(1)
	return c.TotalsReader.RecentBuckets(ctx, since, fn)
}

func (c *countingSource) LinkTotals(ctx context.Context, links []statsapi.StatsLink) ([]statsapi.LinkTotal, error) {
	c.mu.Lock()
	c.summed = append(c.summed, links...)
	c.mu.Unlock()
	return c.TotalsReader.LinkTotals(ctx, links)
}

// takeSummed returns the codes summed since the last call, sorted.
func (c *countingSource) takeSummed() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, l := range c.summed {
		out = append(out, l.Code)
	}
	c.summed = nil
	slices.Sort(out)
	return out
}

var backends = []string{"postgres", "sqlite"}

// TestPasses: a full pass copies every link's all-time totals (clicks of
// earlier months too, humans apart); an incremental pass sums and writes
// only the links whose recent buckets changed, and counts only the links
// whose totals moved; clicks written later than the overlap into an old
// bucket wait for the next full pass.
func TestPasses(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			now := time.Now().UTC()
			clock := now
			links := e.newLinks(t, 4)
			a, b, c, quiet := links[0], links[1], links[2], links[3]
			e.write(t,
				click{a, now.AddDate(0, -1, 0), 3, false}, // last month
				click{a, now, 2, true},
				click{b, now.Add(-time.Minute), 5, false},
				click{quiet, now.Add(-30 * time.Hour), 1, false},
			)
			job, err := clicktotals.New(&leader.Flag{}, clicktotals.Config{Source: e.source, Store: e.links, Batch: 2,
				Now: func() time.Time { return clock }})
			if err != nil {
				t.Fatal(err)
			}
			n, err := job.Pass(t.Context())
			if err != nil || n != 3 {
				t.Fatalf("full pass: %d links updated, %v; want 3", n, err)
			}
			want := [][2]int64{{5, 3}, {5, 5}, {0, 0}, {1, 1}}
			if got := e.totals(t, links); !slices.Equal(got, want) {
				t.Fatalf("after the full pass: %v, want %v", got, want)
			}
			if got := e.source.takeSummed(); len(got) != 0 {
				t.Errorf("the full pass summed links one by one: %q", got)
			}

			clock = now.Add(30 * time.Second)
			if n, err := job.Pass(t.Context()); err != nil || n != 0 {
				t.Errorf("a pass with no new click: %d links updated, %v", n, err)
			}
			if got := e.source.takeSummed(); len(got) != 0 {
				t.Errorf("a pass with no new click summed %q", got)
			}

			e.write(t, click{c, now, 4, false}, click{a, now, 1, false})
			clock = now.Add(time.Minute)
			if n, err := job.Pass(t.Context()); err != nil || n != 2 {
				t.Errorf("incremental pass: %d links updated, %v; want 2", n, err)
			}
			if got, want := e.source.takeSummed(), sorted(a.Code, c.Code); !slices.Equal(got, want) {
				t.Errorf("the incremental pass summed %q, want %q alone", got, want)
			}
			want = [][2]int64{{6, 4}, {5, 5}, {4, 4}, {1, 1}}
			if got := e.totals(t, links); !slices.Equal(got, want) {
				t.Errorf("after the incremental pass: %v, want %v", got, want)
			}

			// Written late, into a bucket before the window.
			e.write(t, click{quiet, now.Add(-30 * time.Hour), 2, false})
			clock = now.Add(90 * time.Second)
			if _, err := job.Pass(t.Context()); err != nil {
				t.Fatal(err)
			}
			if got := e.totals(t, links)[3]; got != [2]int64{1, 1} {
				t.Errorf("a late click outside the window was seen at once: %v", got)
			}
			clock = now.Add(clicktotals.DefaultFullEvery)
			if n, err := job.Pass(t.Context()); err != nil || n != 1 {
				t.Errorf("the next full pass: %d updated, %v; want the late link's", n, err)
			}
			if got := e.totals(t, links)[3]; got != [2]int64{3, 3} {
				t.Errorf("after the next full pass, the late link has %v", got)
			}
		})
	}
}

func sorted(s ...string) []string {
	slices.Sort(s)
	return s
}

// TestLeaderOnly: a follower never reads the stats nor writes a total;
// the leader's first pass of its term writes them; a node that stops
// leading stops passing.
func TestLeaderOnly(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, backend)
			links := e.newLinks(t, 1)
			e.write(t, click{links[0], time.Now().UTC(), 3, false})
			var lead leader.Flag
			var state atomic.Value
			state.Store("")
			job, err := clicktotals.New(&lead, clicktotals.Config{Source: e.source, Store: e.links, Interval: 10 * time.Millisecond,
				Trace: func(s string) { state.Store(s) }})
			if err != nil {
				t.Fatal(err)
			}
			job.Start(context.Background())
			t.Cleanup(func() { _ = job.Close() })
			testenv.WaitFor(t, "the follower waits", 5*time.Second, func() bool { return state.Load() == "follower" })
			if n := e.source.calls.Load(); n != 0 || e.totals(t, links)[0] != [2]int64{} {
				t.Fatalf("a follower read the stats %d times, or wrote totals", n)
			}
			lead.Set(true)
			testenv.WaitFor(t, "the leader writes the totals", 5*time.Second, func() bool { return e.totals(t, links)[0] == [2]int64{3, 3} })
			lead.Set(false)
			testenv.WaitFor(t, "the former leader waits", 5*time.Second, func() bool { return state.Load() == "follower" })
			calls := e.source.calls.Load()
			e.write(t, click{links[0], time.Now().UTC(), 1, true})
			if got := e.totals(t, links)[0]; got != [2]int64{3, 3} || e.source.calls.Load() != calls {
				t.Errorf("a former leader kept passing: %v, %d reads after %d", got, e.source.calls.Load(), calls)
			}
			lead.Set(true)
			testenv.WaitFor(t, "the new term writes the totals", 5*time.Second, func() bool { return e.totals(t, links)[0] == [2]int64{4, 3} })
		})
	}
}

// TestNewRequires: a source and a store are required.
func TestNewRequires(t *testing.T) {
	if _, err := clicktotals.New(&leader.Flag{}, clicktotals.Config{}); err == nil {
		t.Error("New without a source and a store")
	}
}
