package partitions

import (
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver

	"github.com/shortify/shortify/internal/migrations"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// legacyDir holds statsdb's migration of stats_offsets as it was before
// this package owned the whole stats schema, recorded then in
// stats_ingest_schema_migrations.
const legacyDir = "testdata/legacy"

// legacyStatsVersions are the versions of the stats tables the control
// plane's partitions package recorded in stats_schema_migrations then; they
// are unchanged here.
const legacyStatsVersions = 2

// legacy returns the migrations of a database made before: the stats
// tables' and, apart, the offsets'.
func legacy(t *testing.T, dialect string) (stats, offsets []migrations.Migration) {
	t.Helper()
	ms, err := migrations.Load(migrationFS, "migrations/"+dialect)
	if err != nil {
		t.Fatal(err)
	}
	offsets, err = migrations.Load(os.DirFS(legacyDir), dialect)
	if err != nil {
		t.Fatal(err)
	}
	return ms[:legacyStatsVersions], offsets
}

// versionsQuery lists the recorded versions with their time of
// application, which a migration run again would change.
const versionsQuery = `SELECT version, name, CAST(applied_at AS text) FROM ` + MigrationsTable + ` ORDER BY version`

type applied struct {
	version  int
	name, at string
}

func appliedVersions(t *testing.T, db *sql.DB) []applied {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), versionsQuery)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []applied
	for rows.Next() {
		var a applied
		if err := rows.Scan(&a.version, &a.name, &a.at); err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkAdopted checks that Open migrated a database made by the old
// migrations in place: the old versions kept their records (none ran
// again), 0003 adopted stats_offsets with its row, and a second Open
// changes nothing.
func checkAdopted(t *testing.T, before, after, again []applied, offset int64) {
	t.Helper()
	if len(after) <= len(before) || !slices.Equal(after[:len(before)], before) || after[len(before)].name != "offsets" {
		t.Errorf("versions before %v, after %v: want the old ones untouched and 0003_offsets added", before, after)
	}
	if !slices.Equal(again, after) {
		t.Errorf("a second Open changed the versions: %v, then %v", after, again)
	}
	if offset != 42 {
		t.Errorf("stats_offsets row after the migration: next_offset %d, want 42", offset)
	}
}

func TestMigratesLegacyPostgresInPlace(t *testing.T) {
	t.Parallel()
	dsn := testenv.Schema(t)
	ctx := t.Context()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	stats, offsets := legacy(t, "postgres")
	if err := migrations.ApplyPostgres(ctx, pool, MigrationsTable, stats); err != nil {
		t.Fatal(err)
	}
	if err := migrations.ApplyPostgres(ctx, pool, LegacyOffsetsMigrationsTable, offsets); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO stats_offsets (consumer_group, topic, partition, next_offset) VALUES ('g', 't', 0, 42)`); err != nil {
		t.Fatal(err)
	}
	db := stdlibOf(t, dsn)
	before := appliedVersions(t, db)
	reopen := func() []applied {
		m, err := Open(ctx, Config{DSN: dsn, Migrate: true, Logger: quiet})
		if err != nil {
			t.Fatalf("Open on a legacy database: %v", err)
		}
		m.Close()
		return appliedVersions(t, db)
	}
	after, again := reopen(), reopen()
	var offset int64
	if err := pool.QueryRow(ctx, `SELECT next_offset FROM stats_offsets WHERE consumer_group = 'g'`).Scan(&offset); err != nil {
		t.Fatal(err)
	}
	checkAdopted(t, before, after, again, offset)
}

func TestMigratesLegacySQLiteInPlace(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	db, path := sqliteFile(t)
	stats, offsets := legacy(t, "sqlite")
	if err := migrations.ApplySQLite(ctx, db, MigrationsTable, stats); err != nil {
		t.Fatal(err)
	}
	if err := migrations.ApplySQLite(ctx, db, LegacyOffsetsMigrationsTable, offsets); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO stats_offsets (consumer_group, topic, partition, next_offset, updated_at) VALUES ('g', 't', 0, 42, 0)`); err != nil {
		t.Fatal(err)
	}
	before := appliedVersions(t, db)
	reopen := func() []applied {
		m, err := Open(ctx, Config{DSN: "sqlite://" + path, Migrate: true, Logger: quiet})
		if err != nil {
			t.Fatalf("Open on a legacy file: %v", err)
		}
		m.Close()
		return appliedVersions(t, db)
	}
	after, again := reopen(), reopen()
	var offset int64
	if err := db.QueryRowContext(ctx, `SELECT next_offset FROM stats_offsets WHERE consumer_group = 'g'`).Scan(&offset); err != nil {
		t.Fatal(err)
	}
	checkAdopted(t, before, after, again, offset)
}

// sqliteFile opens a new SQLite file as the migrations do (IMMEDIATE
// transactions) and returns it with its path.
func sqliteFile(t *testing.T) (*sql.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "stats.db")
	db, err := sql.Open("sqlite", path+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db, path
}

// stdlibOf opens dsn through database/sql, so that both dialects' checks
// read the versions alike.
func stdlibOf(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if err := db.PingContext(t.Context()); err != nil {
		t.Fatal(err)
	}
	return db
}
