// Package audit keeps the control plane's audit log (who changed what
// through the API, when, from where, with what outcome) and the abuse
// reports that visitors send, in the link database, PostgreSQL or SQLite.
//
// Its tables have their own migrations, recorded in
// audit_schema_migrations, apart from the link store's: the audit log
// outlives schema changes of the links and never slows their migrations.
// On PostgreSQL audit_log is partitioned by month (audit_log_yYYYYmMM,
// the stats partitions' names and bounds, stats/partitions) and Maintain,
// run by the Raft leader's partition scheduler (controlplane/partitions),
// creates the months ahead and drops those past the retention; on SQLite
// Maintain deletes the rows past it.
//
// Writes to the log go through a Recorder, which buffers entries and
// writes them in batches off the request path.
package audit

import (
	"cmp"
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/shortify/shortify/internal/migrations"
	"github.com/shortify/shortify/internal/storedsn"
)

//go:embed migrations/postgres/*.sql migrations/sqlite/*.sql
var migrationFS embed.FS

// MigrationsTable records the applied versions of this package's schema.
const MigrationsTable = "audit_schema_migrations"

// Defaults of Config.
const (
	// DefaultRetention is how long audit entries are kept.
	DefaultRetention = 365 * 24 * time.Hour
	// DefaultMonthsAhead is how many months after the current one have
	// their audit_log partition ready (PostgreSQL).
	DefaultMonthsAhead = 2
)

// Sentinel errors.
var (
	// ErrNotFound means no report has the ID.
	ErrNotFound = errors.New("audit: no such report")
	// ErrResolved means the report was resolved already.
	ErrResolved = errors.New("audit: report already resolved")
)

// Config configures a Store.
type Config struct {
	// DSN names the database: postgres://…, postgresql://… or
	// sqlite://PATH (the link database's).
	DSN string
	// Retention is how long audit entries are kept (default
	// DefaultRetention).
	Retention time.Duration
	// MonthsAhead is how many months after the current one Maintain keeps
	// partitioned (default DefaultMonthsAhead).
	MonthsAhead int
}

// Store is the audit log and the abuse reports in one database. It is safe
// for concurrent use.
type Store struct {
	cfg    Config
	db     *sql.DB
	pool   *pgxpool.Pool // PostgreSQL only
	schema string        // PostgreSQL only: the current schema
	sqlite bool
}

// Open connects to the database cfg.DSN names and applies the migrations
// it lacks; on PostgreSQL it also creates the audit_log partitions of the
// current month and the months ahead, so that writes can start at once.
func Open(ctx context.Context, cfg Config) (_ *Store, err error) {
	cfg.Retention = cmp.Or(cfg.Retention, DefaultRetention)
	cfg.MonthsAhead = cmp.Or(cfg.MonthsAhead, DefaultMonthsAhead)
	if cfg.Retention < 0 || cfg.MonthsAhead < 0 {
		return nil, errors.New("audit: the retention and the months ahead must be positive")
	}
	d, err := storedsn.Parse(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	s := &Store{cfg: cfg}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	if d.Dialect == storedsn.Postgres {
		err = s.openPostgres(ctx, cfg.DSN)
	} else {
		err = s.openSQLite(ctx, d.Path)
	}
	if err != nil {
		return nil, err
	}
	if !s.sqlite {
		if _, err := s.ensure(ctx, time.Now()); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *Store) openPostgres(ctx context.Context, dsn string) error {
	pc, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	pc.MaxConns = 4
	pc.ConnConfig.RuntimeParams["timezone"] = "UTC"
	pc.ConnConfig.RuntimeParams["application_name"] = "shortify-audit"
	if s.pool, err = pgxpool.NewWithConfig(context.Background(), pc); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("audit: connect to %s: %w", storedsn.Describe(dsn), err)
	}
	ms, err := migrations.Load(migrationFS, "migrations/postgres")
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	if err := migrations.ApplyPostgres(ctx, s.pool, MigrationsTable, ms); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	if err := s.pool.QueryRow(ctx, "SELECT current_schema()").Scan(&s.schema); err != nil {
		return fmt.Errorf("audit: current schema: %w", err)
	}
	s.db = stdlib.OpenDBFromPool(s.pool)
	return nil
}

func (s *Store) openSQLite(ctx context.Context, path string) error {
	s.sqlite = true
	db, err := migrations.OpenSQLite(path)
	if err != nil {
		return fmt.Errorf("audit: open %s: %w", path, err)
	}
	s.db = db
	// SQLite has one writer; the recorder writes one batch at a time.
	db.SetMaxOpenConns(2)
	if err := db.PingContext(ctx); err != nil {
		return fmt.Errorf("audit: open %s: %w", path, err)
	}
	ms, err := migrations.Load(migrationFS, "migrations/sqlite")
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	if err := migrations.ApplySQLite(ctx, db, MigrationsTable, ms); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// Close releases the connections.
func (s *Store) Close() {
	if s.db != nil {
		_ = s.db.Close()
	}
	if s.pool != nil {
		s.pool.Close()
	}
}

// Partitioned reports whether audit_log is partitioned (PostgreSQL).
func (s *Store) Partitioned() bool { return !s.sqlite }

var placeholder = regexp.MustCompile(`\$([0-9]+)`)

// bind adapts a statement written with PostgreSQL's $n placeholders and
// times as time.Time to the store's database.
func (s *Store) bind(stmt string, args []any) (string, []any) {
	if !s.sqlite {
		return stmt, args
	}
	for i, a := range args {
		switch v := a.(type) {
		case time.Time:
			args[i] = v.UnixMicro()
		case *time.Time:
			if v != nil {
				args[i] = v.UnixMicro()
			} else {
				args[i] = nil
			}
		}
	}
	return placeholder.ReplaceAllString(stmt, "?$1"), args
}

func (s *Store) query(ctx context.Context, stmt string, args ...any) (*sql.Rows, error) {
	stmt, args = s.bind(stmt, args)
	return s.db.QueryContext(ctx, stmt, args...)
}

func (s *Store) exec(ctx context.Context, stmt string, args ...any) (sql.Result, error) {
	stmt, args = s.bind(stmt, args)
	return s.db.ExecContext(ctx, stmt, args...)
}

// timeScanner scans a time from either database: a timestamptz
// (PostgreSQL) or Unix microseconds (SQLite); NULL leaves the zero time.
type timeScanner struct{ t *time.Time }

// Scan implements sql.Scanner.
func (ts timeScanner) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		*ts.t = time.Time{}
	case time.Time:
		*ts.t = x.UTC()
	case int64:
		*ts.t = time.UnixMicro(x).UTC()
	default:
		return fmt.Errorf("audit: cannot read a time from %T", v)
	}
	return nil
}
