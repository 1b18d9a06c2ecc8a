package partitions

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/shortify/shortify/internal/migrations"
)

// sqliteDeleteBatch bounds the rows one retention DELETE removes, so that
// the file's write lock is never held for long.
const sqliteDeleteBatch = 5000

// sqliteExpiry says which rows of a table are past a cutoff: those whose
// column plus width (the bucket's length) is at or before it.
var sqliteExpiry = []struct {
	table, column string
	width         time.Duration
}{
	{"clicks", "occurred_at", 0},
	{"clicks_hourly", "bucket", time.Hour},
	{"clicks_hourly_dims", "bucket", time.Hour},
	{"clicks_daily", "bucket", 24 * time.Hour},
	{"clicks_daily_dims", "bucket", 24 * time.Hour},
}

// sqliteBackend is the embedded default: the stats tables unpartitioned in
// a SQLite file (by default the link store's).
type sqliteBackend struct {
	db *sql.DB
}

// openSQLite opens the stats tables in the SQLite file at path.
func openSQLite(ctx context.Context, path string, migrate bool) (*sqliteBackend, error) {
	db, err := migrations.OpenSQLite(path)
	if err != nil {
		return nil, fmt.Errorf("partitions: open %s: %w", path, err)
	}
	// One connection: the manager writes one statement at a time, and
	// SQLite has one writer anyway.
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("partitions: open %s: %w", path, err)
	}
	if migrate {
		if err := MigrateSQLite(ctx, db); err != nil {
			db.Close()
			return nil, fmt.Errorf("%w (%s)", err, path)
		}
	}
	return &sqliteBackend{db: db}, nil
}

func (*sqliteBackend) partitioned() bool { return false }

func (b *sqliteBackend) close() { b.db.Close() }

func (*sqliteBackend) ensure(context.Context, []string, []time.Time) ([]Partition, error) {
	return nil, nil
}

func (*sqliteBackend) list(context.Context) ([]Partition, error) { return nil, nil }

func (*sqliteBackend) drop(_ context.Context, name string, _ time.Time) (Partition, error) {
	return Partition{}, fmt.Errorf("partitions: %q: %w", name, ErrNotFound)
}

// expire deletes, table by table and in batches, the rows whose time (or
// bucket) ends at or before cutoff. detach has no meaning without
// partitions.
func (b *sqliteBackend) expire(ctx context.Context, cutoff time.Time, _ bool) (Expired, error) {
	var ex Expired
	for _, e := range sqliteExpiry {
		// Table and column names are constants of this file.
		stmt := fmt.Sprintf("DELETE FROM %[1]s WHERE rowid IN (SELECT rowid FROM %[1]s WHERE %[2]s <= ? LIMIT %[3]d)",
			e.table, e.column, sqliteDeleteBatch)
		// occurred_at is an instant: strictly before the cutoff; a bucket
		// must have ended by it.
		last := cutoff.Add(-e.width).UnixMicro()
		if e.width == 0 {
			last--
		}
		for {
			res, err := b.db.ExecContext(ctx, stmt, last)
			if err != nil {
				return ex, fmt.Errorf("delete from %s: %w", e.table, err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return ex, fmt.Errorf("delete from %s: %w", e.table, err)
			}
			ex.Rows += n
			if n < sqliteDeleteBatch {
				break
			}
		}
	}
	return ex, nil
}
