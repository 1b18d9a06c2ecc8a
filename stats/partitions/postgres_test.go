package partitions

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/linkstore/pgstore"
	"github.com/shortify/shortify/internal/migrations"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func month(y int, m time.Month) time.Time { return time.Date(y, m, 1, 0, 0, 0, 0, time.UTC) }

// setup opens a migrated manager on a fresh schema; cfg.DSN, when empty,
// is that schema's.
func setup(t *testing.T, cfg Config) (*Manager, string) {
	t.Helper()
	if cfg.DSN == "" {
		cfg.DSN = testenv.Schema(t)
	}
	cfg.Migrate = true
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	m, err := Open(t.Context(), cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(m.Close)
	return m, cfg.DSN
}

func pool(t *testing.T, dsn string) *pgxpool.Pool {
	t.Helper()
	p, err := pgxpool.New(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func listManaged(t *testing.T, m *Manager) []Partition {
	t.Helper()
	ps, err := m.List(t.Context())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	return slices.DeleteFunc(ps, func(p Partition) bool { return !p.Managed })
}

func TestEnsureAhead(t *testing.T) {
	t.Parallel()
	m, _ := setup(t, Config{})
	now := time.Date(2026, 11, 15, 12, 0, 0, 0, time.UTC)
	created, err := m.EnsureAhead(t.Context(), now, 2)
	if err != nil {
		t.Fatalf("EnsureAhead: %v", err)
	}
	want := MonthNames(month(2026, 11), month(2026, 12), month(2027, 1))
	if got := Names(created); !slices.Equal(got, want) {
		t.Errorf("created %v,\nwant %v", got, want)
	}
	ps := listManaged(t, m)
	if got := Names(ps); !slices.Equal(got, want) {
		t.Errorf("listed %v,\nwant %v", got, want)
	}
	for _, p := range ps {
		_, mon, ok := ParsePartitionName(p.Name)
		if !ok || p.Strategy != StrategyRange || !p.From.Equal(mon) || !p.To.Equal(AddMonths(mon, 1)) {
			t.Errorf("%s: strategy %s, range [%s, %s), want range [%s, %s)", p.Name, p.Strategy, p.From, p.To, mon, AddMonths(mon, 1))
		}
		if p.PastRetention || p.SizeBytes <= 0 {
			t.Errorf("%s: past retention %v, size %d", p.Name, p.PastRetention, p.SizeBytes)
		}
	}

	// Again: nothing to do. One month later: one more month.
	if created, err := m.EnsureAhead(t.Context(), now, 2); err != nil || len(created) != 0 {
		t.Errorf("second EnsureAhead created %v, %v; want nothing", Names(created), err)
	}
	created, err = m.EnsureAhead(t.Context(), now.AddDate(0, 1, 0), 2)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := Names(created), MonthNames(month(2027, 2)); !slices.Equal(got, want) {
		t.Errorf("a month later created %v, want %v", got, want)
	}
	if _, err := m.EnsureAhead(t.Context(), now, MaxMonthsAhead+1); !errors.Is(err, ErrBadMonths) {
		t.Errorf("EnsureAhead(%d months) = %v, want ErrBadMonths", MaxMonthsAhead+1, err)
	}
}

func TestEnsureAheadConcurrent(t *testing.T) {
	t.Parallel()
	// Two managers (two pools, as on two nodes) racing, four calls each.
	m1, dsn := setup(t, Config{})
	m2, _ := setup(t, Config{DSN: dsn})
	now := time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC)
	const calls = 8
	var wg sync.WaitGroup
	results := make([][]Partition, calls)
	errs := make([]error, calls)
	for i := range calls {
		m := m1
		if i%2 == 1 {
			m = m2
		}
		wg.Go(func() { results[i], errs[i] = m.EnsureAhead(t.Context(), now, 3) })
	}
	wg.Wait()
	var all []Partition
	for i := range calls {
		if errs[i] != nil {
			t.Errorf("call %d: %v", i, errs[i])
		}
		all = append(all, results[i]...)
	}
	want := MonthNames(month(2026, 12), month(2027, 1), month(2027, 2), month(2027, 3))
	if got := Names(all); !slices.Equal(got, want) {
		t.Errorf("created between them %v,\nwant each of %v exactly once", got, want)
	}
	if got := Names(listManaged(t, m1)); !slices.Equal(got, want) {
		t.Errorf("listed %v, want %v", got, want)
	}
}

func TestRowsLandInTheirMonth(t *testing.T) {
	t.Parallel()
	m, dsn := setup(t, Config{})
	if _, err := m.EnsureAhead(t.Context(), month(2026, 12), 1); err != nil {
		t.Fatal(err)
	}
	db := pool(t, dsn)
	tests := []struct {
		at   string
		want string
	}{
		{"2026-12-01 00:00:00+00", "y2026m12"},
		{"2026-12-31 23:59:59.999999+00", "y2026m12"},
		{"2027-01-01 00:00:00+00", "y2027m01"},
		{"2027-01-01 00:30:00+01", "y2026m12"}, // 23:30 UTC on 31 December
		{"2026-12-31 20:00:00-05", "y2027m01"}, // 01:00 UTC on 1 January
	}
	for i, tt := range tests {
		var got string
		err := db.QueryRow(t.Context(), `
WITH ins AS (
	INSERT INTO clicks (occurred_at, code, link_id, visitor_hash, referrer_host, country, device, browser, os, bot, status)
	VALUES ($1::timestamptz, 'abc', 7, 42, 'example.com', 'DE', 'mobile', 'Firefox', 'Android', false, 302)
	RETURNING tableoid)
SELECT c.relname FROM ins JOIN pg_class c ON c.oid = ins.tableoid`, tt.at).Scan(&got)
		if err != nil {
			t.Fatalf("insert click at %s: %v", tt.at, err)
		}
		if got != "clicks_"+tt.want {
			t.Errorf("click at %s went to %s, want clicks_%s", tt.at, got, tt.want)
		}
		// The hourly aggregate of the same instant, keyed by its UTC hour.
		err = db.QueryRow(t.Context(), `
WITH ins AS (
	INSERT INTO clicks_hourly (bucket, code, link_id, bot, clicks)
	VALUES (date_trunc('hour', $1::timestamptz, 'UTC'), $2, 7, false, 1)
	RETURNING tableoid)
SELECT c.relname FROM ins JOIN pg_class c ON c.oid = ins.tableoid`, tt.at, fmt.Sprintf("c%d", i)).Scan(&got)
		if err != nil {
			t.Fatalf("insert hourly bucket of %s: %v", tt.at, err)
		}
		if got != "clicks_hourly_"+tt.want {
			t.Errorf("hourly bucket of %s went to %s, want clicks_hourly_%s", tt.at, got, tt.want)
		}
	}
	// No partition, no row: the stats service must not write outside the
	// kept months.
	_, err := db.Exec(t.Context(), `INSERT INTO clicks (occurred_at, code, link_id, status) VALUES ('2027-02-01 00:00:00+00', 'abc', 7, 302)`)
	if err == nil || !strings.Contains(err.Error(), "no partition") {
		t.Errorf("insert beyond the last partition: %v, want a no-partition error", err)
	}
	// The schema's checks: buckets are UTC hours, the roll-up is code ''
	// with link 0.
	for _, bad := range []string{
		`INSERT INTO clicks_hourly (bucket, code, link_id, bot, clicks) VALUES ('2026-12-05 10:30:00+00', 'x', 1, false, 1)`,
		`INSERT INTO clicks_daily (bucket, code, link_id, bot, clicks) VALUES ('2026-12-05 00:00:00+01', 'x', 1, false, 1)`,
		`INSERT INTO clicks_daily_dims (bucket, code, link_id, bot, dimension, value, clicks) VALUES ('2026-12-05', '', 5, false, 'country', 'DE', 1)`,
		`INSERT INTO clicks_daily_dims (bucket, code, link_id, bot, dimension, value, clicks) VALUES ('2026-12-05', 'x', 5, false, 'colour', 'red', 1)`,
	} {
		if _, err := db.Exec(t.Context(), bad); err == nil {
			t.Errorf("accepted: %s", bad)
		}
	}
	if _, err := db.Exec(t.Context(), `INSERT INTO clicks_daily_dims (bucket, code, link_id, bot, dimension, value, clicks) VALUES ('2026-12-05', '', 0, true, 'status', '302', 3)`); err != nil {
		t.Errorf("roll-up row refused: %v", err)
	}
}

func TestApplyRetention(t *testing.T) {
	t.Parallel()
	for _, detach := range []bool{false, true} {
		t.Run(fmt.Sprintf("detach=%v", detach), func(t *testing.T) {
			t.Parallel()
			m, dsn := setup(t, Config{})
			lm, err := pgstore.Open(t.Context(), linkstore.Config{DSN: dsn, Migrate: true})
			if err != nil {
				t.Fatal(err)
			}
			lm.Close()
			// January 2025 to March 2026.
			if _, err := m.EnsureAhead(t.Context(), month(2025, 1), 14); err != nil {
				t.Fatal(err)
			}
			// 365 days before 1 March 2026 is 1 March 2025: January and
			// February 2025 ended by then; March 2025 reaches past it.
			now := month(2026, 3)
			ex, err := m.ApplyRetention(t.Context(), now, 365*24*time.Hour, detach)
			if err != nil {
				t.Fatalf("ApplyRetention: %v", err)
			}
			if got, want := Names(ex.Partitions), MonthNames(month(2025, 1), month(2025, 2)); !slices.Equal(got, want) || ex.Detached != detach {
				t.Errorf("removed %v (detached %v),\nwant %v (detached %v)", got, ex.Detached, want, detach)
			}
			var kept []time.Time
			for mo := month(2025, 3); !mo.After(month(2026, 3)); mo = AddMonths(mo, 1) {
				kept = append(kept, mo)
			}
			if got, want := Names(listManaged(t, m)), MonthNames(kept...); !slices.Equal(got, want) {
				t.Errorf("kept %v,\nwant %v", got, want)
			}
			ps, err := m.List(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if n := len(slices.DeleteFunc(ps, func(p Partition) bool { return p.Table != "links" })); n != 16 {
				t.Errorf("%d links partitions after the retention, want all 16", n)
			}

			// Detached partitions stay as plain tables; dropped ones are gone.
			var exists, isPartition bool
			err = pool(t, dsn).QueryRow(t.Context(),
				`SELECT count(*) = 1, coalesce(bool_or(relispartition), false) FROM pg_class
				 WHERE relname = 'clicks_y2025m01' AND relnamespace = current_schema()::text::regnamespace`).Scan(&exists, &isPartition)
			if err != nil {
				t.Fatal(err)
			}
			if exists != detach || isPartition {
				t.Errorf("clicks_y2025m01: exists %v, partition %v; want exists %v, no partition", exists, isPartition, detach)
			}

			// Again: nothing left to remove.
			if ex, err := m.ApplyRetention(t.Context(), now, 365*24*time.Hour, detach); err != nil || len(ex.Partitions) != 0 {
				t.Errorf("second ApplyRetention removed %v, %v", Names(ex.Partitions), err)
			}
			if detach {
				// A detached table keeps its name; creating that month again
				// says so instead of silently doing nothing.
				if _, err := m.EnsureAhead(t.Context(), month(2025, 1), 0); !errors.Is(err, ErrNameTaken) {
					t.Errorf("EnsureAhead over a detached month: %v, want ErrNameTaken", err)
				}
			}
		})
	}
}

func TestListShowsLinksHashPartitions(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name      string
		elsewhere bool
	}{
		{"one database", false},
		{"links elsewhere", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			stats, links, linksConfig := testenv.Schema(t), "", ""
			links = stats
			if tt.elsewhere {
				links = testenv.Schema(t)
				linksConfig = links
			}
			ls, err := pgstore.Open(t.Context(), linkstore.Config{DSN: links, Migrate: true})
			if err != nil {
				t.Fatal(err)
			}
			defer ls.Close()
			if err := ls.Create(t.Context(), linkstore.Link{Code: "listme", ID: 1, URL: "https://example.com/", CreatedAt: now}); err != nil && !errors.Is(err, linkstore.ErrCodeTaken) {
				t.Fatal(err)
			}
			if _, err := ls.Primary().Exec(t.Context(), "ANALYZE links"); err != nil {
				t.Fatal(err)
			}
			m, _ := setup(t, Config{DSN: stats, LinksDSN: linksConfig, Now: func() time.Time { return now }})
			if _, err := m.EnsureAhead(t.Context(), now, 1); err != nil {
				t.Fatal(err)
			}
			ps, err := m.List(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			var hash, rng int
			var rows int64
			for _, p := range ps {
				switch p.Table {
				case "links":
					if p.Strategy != StrategyHash || p.Modulus != 16 || p.Remainder != hash || p.Managed || p.PastRetention {
						t.Errorf("links partition %+v", p)
					}
					if p.Name != fmt.Sprintf("links_p%02d", hash) || !strings.HasPrefix(p.Bounds, "FOR VALUES WITH (modulus 16") {
						t.Errorf("links partition %d is %s %q", hash, p.Name, p.Bounds)
					}
					if p.EstimatedRows < 0 || p.SizeBytes <= 0 {
						t.Errorf("%s: rows %d, size %d after ANALYZE", p.Name, p.EstimatedRows, p.SizeBytes)
					}
					rows += p.EstimatedRows
					hash++
				default:
					if !p.Managed || p.Strategy != StrategyRange || p.From.IsZero() {
						t.Errorf("stats partition %+v", p)
					}
					rng++
				}
			}
			if hash != 16 || rng != 2*len(Tables) || rows != 1 {
				t.Errorf("listed %d links partitions (%d rows) and %d stats partitions; want 16 (1 row) and %d", hash, rows, rng, 2*len(Tables))
			}
		})
	}
}

func TestDrop(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC)
	m, dsn := setup(t, Config{Now: func() time.Time { return now }, Retention: 90 * 24 * time.Hour})
	ls, err := pgstore.Open(t.Context(), linkstore.Config{DSN: dsn, Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	ls.Close()
	// July 2026 to December 2026. The cutoff is 12 August 2026: July is
	// past the retention, August is not.
	if _, err := m.EnsureAhead(t.Context(), month(2026, 7), 5); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		reason error
	}{
		{"clicks_y2026m08", ErrWithinRetention},
		{"clicks_y2026m11", ErrWithinRetention},
		{"links_p03", ErrNotManaged},
	} {
		_, err := m.Drop(t.Context(), tt.name)
		refused, ok := errors.AsType[*RefusedError](err)
		if !ok || !errors.Is(err, tt.reason) || refused.Partition != tt.name || refused.Detail == "" {
			t.Errorf("Drop(%s) = %v, want a RefusedError for %v", tt.name, err, tt.reason)
		}
	}
	for _, name := range []string{"clicks_y2020m01", "nope", "links", "clicks", `x"; DROP TABLE links; --`} {
		if _, err := m.Drop(t.Context(), name); !errors.Is(err, ErrNotFound) {
			t.Errorf("Drop(%q) = %v, want ErrNotFound", name, err)
		}
	}
	ps, err := m.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if want := p.Managed && p.To.Equal(month(2026, 8)); p.PastRetention != want {
			t.Errorf("%s: past retention %v, want %v", p.Name, p.PastRetention, want)
		}
	}

	p, err := m.Drop(t.Context(), "clicks_hourly_y2026m07")
	if err != nil {
		t.Fatalf("Drop past retention: %v", err)
	}
	if p.Table != "clicks_hourly" || !p.From.Equal(month(2026, 7)) {
		t.Errorf("dropped %+v", p)
	}
	if _, err := m.Drop(t.Context(), "clicks_hourly_y2026m07"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Drop = %v, want ErrNotFound", err)
	}
	after := Names(listManaged(t, m))
	if slices.Contains(after, "clicks_hourly_y2026m07") || !slices.Contains(after, "clicks_y2026m07") {
		t.Errorf("after the drop: %v", after)
	}
}

func TestCreate(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 20, 0, 0, 0, 0, time.UTC)
	m, _ := setup(t, Config{Now: func() time.Time { return now }})
	created, err := m.Create(t.Context(), "clicks_daily", 2)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := Names(created), []string{"clicks_daily_y2026m12", "clicks_daily_y2027m01", "clicks_daily_y2027m02"}; !slices.Equal(got, want) {
		t.Errorf("Create(clicks_daily, 2) = %v, want %v", got, want)
	}
	created, err = m.Create(t.Context(), "", 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(created); got != 2*len(Tables)-2 {
		t.Errorf("Create(all, 1) created %d (%v), want %d", got, Names(created), 2*len(Tables)-2)
	}
	for _, tt := range []struct {
		table  string
		months int
		want   error
	}{
		{"links", 1, ErrUnknownTable},
		{"clicks_y2026m12", 1, ErrUnknownTable},
		{"", 0, ErrBadMonths},
		{"", MaxMonthsAhead + 1, ErrBadMonths},
		{"clicks", -1, ErrBadMonths},
	} {
		if _, err := m.Create(t.Context(), tt.table, tt.months); !errors.Is(err, tt.want) {
			t.Errorf("Create(%q, %d) = %v, want %v", tt.table, tt.months, err, tt.want)
		}
	}
}

func TestMigrateKeepsItsOwnVersions(t *testing.T) {
	t.Parallel()
	dsn := testenv.Schema(t)
	// The links' migrations and the stats' share a database, concurrently.
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 2 {
		wg.Go(func() {
			m, err := Open(t.Context(), Config{DSN: dsn, Migrate: true, Logger: quiet})
			if err == nil {
				m.Close()
			}
			errs <- err
		})
		wg.Go(func() {
			s, err := pgstore.Open(t.Context(), linkstore.Config{DSN: dsn, Migrate: true})
			if err == nil {
				s.Close()
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	db := pool(t, dsn)
	own, err := migrations.Load(migrationFS, "migrations/postgres")
	if err != nil {
		t.Fatal(err)
	}
	var stats, links, crossed int
	if err := db.QueryRow(t.Context(), "SELECT count(*) FROM "+MigrationsTable).Scan(&stats); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(t.Context(), "SELECT count(*) FROM schema_migrations").Scan(&links); err != nil {
		t.Fatal(err)
	}
	// Neither records its versions in the other's table.
	var ownNames []string
	for _, m := range own {
		ownNames = append(ownNames, m.Name)
	}
	err = db.QueryRow(t.Context(), `SELECT (SELECT count(*) FROM schema_migrations WHERE name = ANY($1))
		+ (SELECT count(*) FROM `+MigrationsTable+` WHERE NOT name = ANY($1))`, ownNames).Scan(&crossed)
	if err != nil {
		t.Fatal(err)
	}
	if stats != len(own) || links < 1 || crossed != 0 {
		t.Errorf("%d stats versions (want %d), %d links versions (want some), %d in the wrong table", stats, len(own), links, crossed)
	}
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"no DSN", Config{}, "stats database: no DSN"},
		{"mysql", Config{DSN: "mysql://admin:hunter2@db.example/stats"}, `stats database: unsupported DSN "mysql://admin:xxxxx@db.example/stats"`},
		{"key=value", Config{DSN: "host=db password=hunter2"}, "not a URL; not shown"},
		{"months", Config{DSN: "sqlite://x.db", MonthsAhead: MaxMonthsAhead + 1}, "months ahead"},
		{"retention", Config{DSN: "sqlite://x.db", Retention: -time.Hour}, "retention"},
		{"unreachable", Config{DSN: "postgres://admin:hunter2@127.0.0.1:1/stats?connect_timeout=2"}, "partitions: ping"},
	} {
		_, err := Open(t.Context(), tt.cfg)
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: Open = %v, want an error containing %q without the password", tt.name, err, tt.want)
		}
	}
}

// TestDropFollowsTheReplicatedPolicy: with a policy in the Raft state,
// List and Drop judge "past retention" by it, not by the node's config.
func TestDropFollowsTheReplicatedPolicy(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 10, 0, 0, 0, 0, time.UTC)
	// Configured: 90 days (cutoff 12 August). Replicated: 30 days
	// (cutoff 11 October), so September is past it too.
	policy := &policySource{}
	policy.change(Policy{MonthsAhead: 1, Retention: 30 * 24 * time.Hour})
	m, _ := setup(t, Config{Now: func() time.Time { return now }, Retention: 90 * 24 * time.Hour, Policy: policy})
	if _, err := m.EnsureAhead(t.Context(), month(2026, 9), 2); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Drop(t.Context(), "clicks_y2026m09"); err != nil {
		t.Fatalf("Drop under the replicated 30-day policy: %v", err)
	}
	if _, err := m.Drop(t.Context(), "clicks_y2026m10"); !errors.Is(err, ErrWithinRetention) {
		t.Fatalf("Drop of October: %v, want ErrWithinRetention", err)
	}
}
