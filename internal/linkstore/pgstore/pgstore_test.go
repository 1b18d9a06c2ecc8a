package pgstore

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/linkstore/storetest"
	"github.com/shortify/shortify/internal/migrations"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// querier is what queryStructs needs of a connection or a pool.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// queryStructs runs query on db and returns its rows as Ts, column by
// column in field order.
func queryStructs[T any](t *testing.T, db querier, query string, args ...any) []T {
	t.Helper()
	rows, err := db.Query(t.Context(), query, args...)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[T])
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// open opens a store on this package's test database and closes it when
// the test ends.
func open(tb testing.TB, cfg linkstore.Config) *Store {
	tb.Helper()
	if cfg.DSN == "" {
		cfg.DSN = testenv.Database(tb)
	}
	s, err := Open(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(s.Close)
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) linkstore.Store {
		return open(t, linkstore.Config{Migrate: true})
	})
}

func TestLinksIsHashPartitioned(t *testing.T) {
	s := open(t, linkstore.Config{Migrate: true})
	ctx := t.Context()

	var strategy, key string
	err := s.Primary().QueryRow(ctx, `
SELECT p.partstrat::text, a.attname
FROM pg_partitioned_table p
JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]
WHERE p.partrelid = 'links'::regclass AND p.partnatts = 1`).Scan(&strategy, &key)
	if err != nil {
		t.Fatalf("links is not a partitioned table on one column: %v", err)
	}
	if strategy != "h" || key != "code" {
		t.Errorf("links is partitioned by strategy %q on %q, want hash (h) on code", strategy, key)
	}

	type part struct{ Name, Bound string }
	parts := queryStructs[part](t, s.Primary(), `
SELECT c.relname, pg_get_expr(c.relpartbound, c.oid)
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'links'::regclass
ORDER BY c.relname`)
	if len(parts) != 16 {
		t.Fatalf("links has %d partitions, want 16: %v", len(parts), parts)
	}
	for i, p := range parts {
		wantName := fmt.Sprintf("links_p%02d", i)
		wantBound := fmt.Sprintf("FOR VALUES WITH (modulus 16, remainder %d)", i)
		if p.Name != wantName || p.Bound != wantBound {
			t.Errorf("partition %d: %s %s, want %s %s", i, p.Name, p.Bound, wantName, wantBound)
		}
	}
}

// TestLookupReadsOnePartition checks the plans of the lookup query, both
// the custom plan (pruned while planning) and the generic plan of a
// prepared statement (pruned when execution starts).
func TestLookupReadsOnePartition(t *testing.T) {
	s := open(t, linkstore.Config{Migrate: true})
	ctx := t.Context()
	conn, err := s.Primary().Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
		t.Run(mode, func(t *testing.T) {
			if _, err := conn.Exec(ctx, "SET plan_cache_mode = "+mode); err != nil {
				t.Fatal(err)
			}
			defer conn.Exec(context.Background(), "RESET plan_cache_mode")
			stmt := "lookup_" + mode
			if _, err := conn.Exec(ctx, "PREPARE "+stmt+" (text, text) AS "+sqlSelect); err != nil {
				t.Fatal(err)
			}
			defer conn.Exec(context.Background(), "DEALLOCATE "+stmt)
			var plan []struct{ Plan planNode }
			if err := conn.QueryRow(ctx, "EXPLAIN (FORMAT JSON) EXECUTE "+stmt+"('abcDEF', 'example.com')").Scan(&plan); err != nil {
				t.Fatal(err)
			}
			rels := plan[0].Plan.relations(nil)
			if len(rels) != 1 || !strings.HasPrefix(rels[0], "links_p") {
				t.Errorf("lookup plan reads %v, want exactly one partition of links", rels)
			}
		})
	}
}

type planNode struct {
	Relation string     `json:"Relation Name"`
	Plans    []planNode `json:"Plans"`
}

func (p planNode) relations(acc []string) []string {
	if p.Relation != "" {
		acc = append(acc, p.Relation)
	}
	for _, c := range p.Plans {
		acc = c.relations(acc)
	}
	return acc
}

func countMigrations(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(t.Context(), "SELECT count(*) FROM schema_migrations").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestMigrateIsIdempotent(t *testing.T) {
	dsn := testenv.Schema(t)
	ms, err := migrations.Load(migrationFS, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 || ms[0].Version != 1 {
		t.Fatalf("embedded migrations: %+v", ms)
	}
	first := open(t, linkstore.Config{DSN: dsn, Migrate: true})
	second := open(t, linkstore.Config{DSN: dsn, Migrate: true})
	if err := Migrate(t.Context(), second.Primary()); err != nil {
		t.Fatalf("third Migrate: %v", err)
	}
	if n := countMigrations(t, first.Primary()); n != len(ms) {
		t.Errorf("schema_migrations has %d rows, want %d", n, len(ms))
	}
	l := storetest.NewLink()
	if err := first.Create(t.Context(), l); err != nil {
		t.Fatal(err)
	}
	if _, err := second.Get(t.Context(), "", l.Code); err != nil {
		t.Fatal(err)
	}
}

func TestMigrateConcurrently(t *testing.T) {
	dsn := testenv.Schema(t)
	const nodes = 6
	pools := make([]*pgxpool.Pool, nodes)
	for i := range pools {
		p, err := pgxpool.New(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		pools[i] = p
	}
	errs := storetest.AllAtOnce(nodes, func(i int) error { return Migrate(t.Context(), pools[i]) })
	for i, err := range errs {
		if err != nil {
			t.Errorf("Migrate on node %d: %v", i, err)
		}
	}
	ms, _ := migrations.Load(migrationFS, "migrations")
	if n := countMigrations(t, pools[0]); n != len(ms) {
		t.Errorf("schema_migrations has %d rows, want %d", n, len(ms))
	}
	var parts int
	err := pools[0].QueryRow(t.Context(),
		"SELECT count(*) FROM pg_inherits WHERE inhparent = 'links'::regclass").Scan(&parts)
	if err != nil || parts != 16 {
		t.Errorf("links has %d partitions (%v), want 16", parts, err)
	}
}

// A node that starts while another is half way through the first
// migrations waits for it, instead of taking the half-migrated database
// for an old release's (ErrSkippedExpandRelease): node A holds the
// migrate lock with three migrations applied, node B's Migrate must wait
// on that lock and succeed once A is done.
func TestMigrateWaitsForAnotherNode(t *testing.T) {
	ctx := t.Context()
	dsn := testenv.Schema(t)
	ms, err := migrations.Load(migrationFS, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	poolA, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer poolA.Close()
	poolB, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer poolB.Close()

	connA, err := poolA.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer connA.Release()
	if _, err := connA.Exec(ctx, "SELECT pg_advisory_lock($1)", migrateLockKey); err != nil {
		t.Fatal(err)
	}
	if err := migrations.ApplyPostgres(ctx, connA, "schema_migrations", ms[:3]); err != nil {
		t.Fatal(err)
	}

	done := make(chan error, 1)
	go func() { done <- Migrate(ctx, poolB) }()
	testenv.WaitFor(t, "node B waiting on the migrate lock", 10*time.Second, func() bool {
		var waiting int
		err := poolA.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted
			AND classid::bigint = ($1::bigint >> 32) AND objid::bigint = ($1::bigint & 4294967295)`, migrateLockKey).Scan(&waiting)
		return err == nil && waiting > 0
	})
	select {
	case err := <-done:
		t.Fatalf("node B's Migrate returned while node A migrates: %v", err)
	default:
	}

	if err := migrations.ApplyPostgres(ctx, connA, "schema_migrations", ms[3:]); err != nil {
		t.Fatal(err)
	}
	if _, err := connA.Exec(ctx, "SELECT pg_advisory_unlock($1)", migrateLockKey); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("node B's Migrate after node A's: %v", err)
	}
	if n := countMigrations(t, poolB); n != len(ms) {
		t.Errorf("schema_migrations has %d rows, want %d", n, len(ms))
	}
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  linkstore.Config
	}{
		{"unparsable primary", linkstore.Config{DSN: "postgres://user:sekrit@[::1"}},
		{"unreachable primary", linkstore.Config{DSN: "postgres://user:sekrit@127.0.0.1:1/db?connect_timeout=2"}},
		{"unparsable replica", linkstore.Config{DSN: testenv.Database(t), ReadDSNs: []string{"postgres://user:sekrit@[::1"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(t.Context(), tt.cfg)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.HasPrefix(err.Error(), "pgstore: ") || strings.Contains(err.Error(), "sekrit") {
				t.Errorf("error %q: want a pgstore error without the password", err)
			}
		})
	}
}

func BenchmarkLookup(b *testing.B) {
	storetest.BenchLookup(b, open(b, linkstore.Config{Migrate: true}))
}

func BenchmarkCreate(b *testing.B) {
	storetest.BenchCreate(b, open(b, linkstore.Config{Migrate: true}))
}

func BenchmarkCreateMany(b *testing.B) {
	storetest.BenchCreateMany(b, open(b, linkstore.Config{Migrate: true}))
}
