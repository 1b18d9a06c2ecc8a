package seqfloor

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"math"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/shortify/shortify/internal/migrations"
	"github.com/shortify/shortify/internal/storedsn"
)

//go:embed migrations
var migrationFS embed.FS

// ownMigrations are the ledger's tables, kept apart from the link store's
// migrations in seqfloor_migrations.
var ownMigrations = migrations.Embedded{FS: migrationFS, Dir: "migrations", Table: "seqfloor_migrations"}

// maxConns is small: a node writes once per sequence block and once per
// key revocation.
const maxConns = 2

// Ledger is what the link database records for a restore: the sequence's
// high-water mark (RecordBlock) and the API keys revoked
// (RecordRevocation). Its tables live in the link database, so that a dump
// of it carries them with the links they cover.
type Ledger struct {
	db   *sql.DB
	pool *pgxpool.Pool // nil on SQLite
}

// Open opens the ledger in the link database dsn (postgres://… or
// sqlite://PATH) and creates its tables when missing.
func Open(ctx context.Context, dsn string) (*Ledger, error) {
	d, err := storedsn.Parse(dsn)
	if err != nil {
		return nil, fmt.Errorf("seqfloor: %w", err)
	}
	switch d.Dialect {
	case storedsn.Postgres:
		pool, err := ownMigrations.OpenPostgres(ctx, d.URL, maxConns, true)
		if err != nil {
			return nil, fmt.Errorf("seqfloor: %w", err)
		}
		return &Ledger{db: stdlib.OpenDBFromPool(pool), pool: pool}, nil
	case storedsn.SQLite:
		db, err := ownMigrations.OpenSQLite(ctx, d.Path, maxConns)
		if err != nil {
			return nil, fmt.Errorf("seqfloor: %w", err)
		}
		return &Ledger{db: db}, nil
	}
	return nil, errors.New("seqfloor: unsupported DSN")
}

// Close releases the connections.
func (l *Ledger) Close() {
	l.db.Close()
	if l.pool != nil {
		l.pool.Close()
	}
}

// RecordBlock raises the sequence's high-water mark to high, the last
// number of a block, unless it is past it already. A node calls it before
// it hands out any number of the block: a dump that holds a link whose
// code has a number of the block then holds the mark too (the mark's
// commit precedes the link's).
func (l *Ledger) RecordBlock(ctx context.Context, high uint64) error {
	if high > math.MaxInt64 {
		return fmt.Errorf("seqfloor: sequence number %d is past the mark's range", high)
	}
	// The same statement on both dialects: excluded carries the column
	// defaults, and the WHERE keeps the larger mark, as GREATEST would.
	_, err := l.db.ExecContext(ctx, `INSERT INTO sequence_mark (id, high) VALUES (1, $1)
		ON CONFLICT (id) DO UPDATE SET high = excluded.high, updated_at = excluded.updated_at
		WHERE sequence_mark.high < excluded.high`, int64(high))
	if err != nil {
		return fmt.Errorf("seqfloor: record the sequence mark %d: %w", high, err)
	}
	return nil
}

// Mark returns the sequence's high-water mark; ok is false when no node
// has written one (a database of a release before the mark, or one no
// node has fetched a block for).
func (l *Ledger) Mark(ctx context.Context) (high uint64, ok bool, err error) {
	var h int64
	err = l.db.QueryRowContext(ctx, `SELECT high FROM sequence_mark WHERE id = 1`).Scan(&h)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, false, nil
	case err != nil:
		return 0, false, fmt.Errorf("seqfloor: read the sequence mark: %w", err)
	}
	return uint64(h), true, nil
}

// RecordRevocation records that the API key id is revoked as of atMs
// (Unix milliseconds); the first record of a key stays. The control plane
// records a revocation before it proposes it, so that a restore from a
// backup taken before revokes the key again.
func (l *Ledger) RecordRevocation(ctx context.Context, id string, atMs int64) error {
	if id == "" || atMs <= 0 {
		return fmt.Errorf("seqfloor: revocation of key %q at %d: want an ID and a positive time", id, atMs)
	}
	_, err := l.db.ExecContext(ctx, `INSERT INTO key_revocations (key_id, revoked_ms) VALUES ($1, $2)
		ON CONFLICT (key_id) DO NOTHING`, id, atMs)
	if err != nil {
		return fmt.Errorf("seqfloor: record the revocation of key %s: %w", id, err)
	}
	return nil
}

// ForgetRevocation removes the record of a revocation that did not happen
// (the cluster knows no key id).
func (l *Ledger) ForgetRevocation(ctx context.Context, id string) error {
	if _, err := l.db.ExecContext(ctx, `DELETE FROM key_revocations WHERE key_id = $1`, id); err != nil {
		return fmt.Errorf("seqfloor: forget the revocation of key %s: %w", id, err)
	}
	return nil
}

// Revocations returns every recorded revocation: key ID to Unix
// milliseconds. The list is as long as the keys ever revoked (the key ring
// holds at most fsm.MaxKeys).
func (l *Ledger) Revocations(ctx context.Context) (map[string]int64, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT key_id, revoked_ms FROM key_revocations`)
	if err != nil {
		return nil, fmt.Errorf("seqfloor: read the key revocations: %w", err)
	}
	defer rows.Close()
	out := make(map[string]int64)
	for rows.Next() {
		var id string
		var ms int64
		if err := rows.Scan(&id, &ms); err != nil {
			return nil, fmt.Errorf("seqfloor: read the key revocations: %w", err)
		}
		out[id] = ms
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("seqfloor: read the key revocations: %w", err)
	}
	return out, nil
}
