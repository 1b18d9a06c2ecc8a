// Package store keeps webhook endpoints and deliveries (webhooks.Store) in
// the link database, PostgreSQL or SQLite, with one code path for both
// (internal/dualsql).
//
// Its tables have their own migrations, recorded in
// webhook_schema_migrations apart from the link store's, applied by Open
// on either database (numbered in Shortify's one sequence: 0010).
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/shortify/shortify/internal/dualsql"
	"github.com/shortify/shortify/internal/migrations"
	"github.com/shortify/shortify/internal/storedsn"
	"github.com/shortify/shortify/webhooks"
)

//go:embed migrations/postgres/*.sql migrations/sqlite/*.sql
var migrationFS embed.FS

// MigrationsTable records the applied versions of this package's schema.
const MigrationsTable = "webhook_schema_migrations"

// DefaultLogLimit is the page size of Deliveries when the query sets none.
const DefaultLogLimit = 50

// Config configures a Store.
type Config struct {
	// DSN names the database: postgres://…, postgresql://… or
	// sqlite://PATH (the link database's).
	DSN string
	// Now is the clock (default time.Now): creation and update times,
	// and "due now" for Enqueue and Replay.
	Now func() time.Time
}

// Store is webhooks.Store on PostgreSQL or SQLite. It is safe for
// concurrent use.
type Store struct {
	db     *sql.DB
	pool   *pgxpool.Pool // PostgreSQL only
	sqlite bool
	now    func() time.Time
}

var _ webhooks.Store = (*Store)(nil)

// Open connects to the database cfg.DSN names and applies the migrations
// it lacks.
func Open(ctx context.Context, cfg Config) (_ *Store, err error) {
	d, err := storedsn.Parse(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("webhooks store: %w", err)
	}
	s := &Store{now: cfg.Now}
	if s.now == nil {
		s.now = time.Now
	}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	e := migrations.Embedded{FS: migrationFS, Dir: "migrations", Table: MigrationsTable}
	if d.Dialect == storedsn.Postgres {
		if s.pool, err = e.OpenPostgres(ctx, cfg.DSN, 4, true); err != nil {
			return nil, fmt.Errorf("webhooks store: %s: %w", storedsn.Describe(cfg.DSN), err)
		}
		s.db = stdlib.OpenDBFromPool(s.pool)
		return s, nil
	}
	s.sqlite = true
	// SQLite has one writer; two connections let a read go beside it.
	if s.db, err = e.OpenSQLite(ctx, d.Path, 2); err != nil {
		return nil, fmt.Errorf("webhooks store: %w", err)
	}
	return s, nil
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

// querier is a *sql.DB or a *sql.Tx.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (s *Store) exec(ctx context.Context, q querier, stmt string, args ...any) (sql.Result, error) {
	stmt, args = dualsql.Bind(s.sqlite, stmt, args)
	return q.ExecContext(ctx, stmt, args...)
}

func (s *Store) query(ctx context.Context, q querier, stmt string, args ...any) (*sql.Rows, error) {
	stmt, args = dualsql.Bind(s.sqlite, stmt, args)
	return q.QueryContext(ctx, stmt, args...)
}

func (s *Store) queryRow(ctx context.Context, q querier, stmt string, args ...any) *sql.Row {
	stmt, args = dualsql.Bind(s.sqlite, stmt, args)
	return q.QueryRowContext(ctx, stmt, args...)
}

// inTx runs fn in a transaction (IMMEDIATE on SQLite: it holds the write
// lock from the start), committing when fn returns nil.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("webhooks store: begin: %w", err)
	}
	defer tx.Rollback() // after Commit, a no-op
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("webhooks store: commit: %w", err)
	}
	return nil
}

// clock is the store's time, in UTC to the microsecond (what both
// databases keep), so that what a method returns equals what it stored.
func (s *Store) clock() time.Time { return norm(s.now()) }

func norm(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC().Truncate(time.Microsecond)
}

// notFound maps sql.ErrNoRows to webhooks.ErrNotFound.
func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return webhooks.ErrNotFound
	}
	return fmt.Errorf("webhooks store: %s: %w", what, err)
}
