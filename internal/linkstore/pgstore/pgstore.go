// Package pgstore is the PostgreSQL link store (pgx/v5): writes and Get go
// to the primary; Lookup, the redirect path's L3, reads from the read
// replicas round-robin and falls back to the primary.
//
// The links table is PARTITION BY HASH (code) with 16 partitions and the
// code as primary key (see migrations/), so every code is unique in the
// database and every read or write by code touches one partition. List
// reads all partitions through the indexes on (id) and (reverse(host), id)
// that migration 0002 adds, each partition's scan ordered by ID and merged.
//
// Queries are constant strings with positional parameters: pgx's default
// exec mode prepares each one once per connection and reuses it. List's
// are the exception, planned anew for their values each time (see List).
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shortify/shortify/internal/linkstore"
)

const (
	// replicaRetryAfter is how long a replica that failed is left out of
	// the rotation before one Lookup tries it again.
	replicaRetryAfter = 5 * time.Second

	// replicaConnectTimeout bounds connecting to a replica whose DSN sets
	// no connect_timeout, so that a replica that does not answer costs a
	// lookup a bounded wait before the fall-back to the primary.
	replicaConnectTimeout = 2 * time.Second
)

const (
	sqlInsert = `INSERT INTO links (code, id, url, status, created_at, expires_at, disabled, host)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`
	sqlSelect = `SELECT id, url, status, created_at, expires_at, disabled FROM links WHERE code = $1`
	sqlDelete = `DELETE FROM links WHERE code = $1`
)

// pgUniqueViolation is the SQLSTATE of unique_violation.
const pgUniqueViolation = "23505"

// Store is a linkstore.Store on PostgreSQL. It is safe for concurrent use.
type Store struct {
	primary  *pgxpool.Pool
	replicas []*replica
	next     atomic.Uint64 // round-robin counter over replicas
	now      func() time.Time
}

// replica is a read pool with a simple health flag: after an error it is
// left out until downUntil, then a single Lookup probes it again.
type replica struct {
	pool      *pgxpool.Pool
	downUntil atomic.Int64 // Unix nanoseconds; 0: healthy
}

// Open connects to the primary (cfg.DSN) and to the replicas
// (cfg.ReadDSNs), pings the primary, and applies the migrations when
// cfg.Migrate is set. Replicas are connected lazily: one that is down does
// not keep the store from opening.
func Open(ctx context.Context, cfg linkstore.Config) (*Store, error) {
	primary, err := newPool(cfg.DSN, cfg.MaxConns, 0)
	if err != nil {
		return nil, fmt.Errorf("pgstore: primary: %w", err)
	}
	s := &Store{primary: primary, now: time.Now}
	for i, dsn := range cfg.ReadDSNs {
		p, err := newPool(dsn, cfg.MaxConns, replicaConnectTimeout)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("pgstore: read DSN %d: %w", i, err)
		}
		s.replicas = append(s.replicas, &replica{pool: p})
	}
	if err := primary.Ping(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("pgstore: ping primary %s: %w", redact(cfg.DSN), err)
	}
	if cfg.Migrate {
		if err := Migrate(ctx, primary); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

func newPool(dsn string, maxConns int32, connectTimeout time.Duration) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(dsn) // its errors redact the password
	if err != nil {
		return nil, err
	}
	if maxConns > 0 {
		pc.MaxConns = maxConns
	}
	if pc.ConnConfig.ConnectTimeout == 0 {
		pc.ConnConfig.ConnectTimeout = connectTimeout
	}
	return pgxpool.NewWithConfig(context.Background(), pc)
}

// Primary returns the primary's pool, for packages that keep their own
// tables in the same database.
func (s *Store) Primary() *pgxpool.Pool { return s.primary }

// Create inserts l, or returns linkstore.ErrCodeTaken.
func (s *Store) Create(ctx context.Context, l linkstore.Link) error {
	if err := l.Validate(); err != nil {
		return fmt.Errorf("pgstore: create %q: %w", l.Code, err)
	}
	expires := pgtype.Timestamptz{Time: l.ExpiresAt, Valid: !l.ExpiresAt.IsZero()}
	host := linkstore.HostOf(l.URL)
	_, err := s.primary.Exec(ctx, sqlInsert,
		l.Code, l.ID, l.URL, l.Status, l.CreatedAt, expires, l.Disabled,
		pgtype.Text{String: host, Valid: host != ""})
	if err != nil {
		if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok && pgErr.Code == pgUniqueViolation {
			return linkstore.ErrCodeTaken
		}
		return fmt.Errorf("pgstore: create %q: %w", l.Code, err)
	}
	return nil
}

// Get reads a link from the primary.
func (s *Store) Get(ctx context.Context, code string) (linkstore.Link, error) {
	l, err := get(ctx, s.primary, code)
	if err != nil && !errors.Is(err, linkstore.ErrNotFound) {
		return linkstore.Link{}, fmt.Errorf("pgstore: get %q: %w", code, err)
	}
	return l, err
}

// Lookup reads a link from the next healthy replica, else from the
// primary. A code the replica does not know, or a replica error, is
// retried on the primary, so replication lag never hides a new link.
// Unknown codes return the bare linkstore.ErrNotFound (no allocation: most
// lookups that reach here for a guessed code miss).
func (s *Store) Lookup(ctx context.Context, code string) (linkstore.Link, error) {
	if r := s.pickReplica(); r != nil {
		l, err := get(ctx, r.pool, code)
		switch {
		case err == nil:
			r.markUp()
			return l, nil
		case errors.Is(err, linkstore.ErrNotFound):
			r.markUp() // the replica answered; confirm on the primary
		case ctx.Err() != nil:
			// The caller gave up or ran out of time: that says nothing
			// certain about the replica, and the primary cannot be asked.
			return linkstore.Link{}, fmt.Errorf("pgstore: lookup %q: %w", code, err)
		default:
			r.markDown(s.now())
		}
	}
	l, err := get(ctx, s.primary, code)
	if err != nil && !errors.Is(err, linkstore.ErrNotFound) {
		return linkstore.Link{}, fmt.Errorf("pgstore: lookup %q: %w", code, err)
	}
	return l, err
}

// Delete removes a link, or returns linkstore.ErrNotFound.
func (s *Store) Delete(ctx context.Context, code string) error {
	tag, err := s.primary.Exec(ctx, sqlDelete, code)
	if err != nil {
		return fmt.Errorf("pgstore: delete %q: %w", code, err)
	}
	if tag.RowsAffected() == 0 {
		return linkstore.ErrNotFound
	}
	return nil
}

// Ping checks that the primary answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.primary.Ping(ctx); err != nil {
		return fmt.Errorf("pgstore: ping: %w", err)
	}
	return nil
}

// Close closes every pool. It may be called more than once.
func (s *Store) Close() {
	for _, r := range s.replicas {
		r.pool.Close()
	}
	s.primary.Close()
}

// get reads one link; it returns linkstore.ErrNotFound or the driver's
// error unwrapped, for the caller to wrap.
func get(ctx context.Context, pool *pgxpool.Pool, code string) (linkstore.Link, error) {
	l, err := scanLink(pool.QueryRow(ctx, sqlSelect, code), code)
	if errors.Is(err, pgx.ErrNoRows) {
		return linkstore.Link{}, linkstore.ErrNotFound
	}
	return l, err
}

// pickReplica returns the next usable replica in round-robin order, or nil
// when there is none (no replicas configured, or all of them down).
func (s *Store) pickReplica() *replica {
	n := uint64(len(s.replicas))
	if n == 0 {
		return nil
	}
	start := s.next.Add(1)
	var now int64 // read the clock only when a replica is down
	for i := range n {
		r := s.replicas[(start+i)%n]
		down := r.downUntil.Load()
		if down == 0 {
			return r
		}
		if now == 0 {
			now = s.now().UnixNano()
		}
		// Past its retry time: the one caller that wins the swap probes
		// it; the others keep skipping it until the probe's outcome.
		if now >= down && r.downUntil.CompareAndSwap(down, now+int64(replicaRetryAfter)) {
			return r
		}
	}
	return nil
}

func (r *replica) markDown(now time.Time) {
	r.downUntil.Store(now.Add(replicaRetryAfter).UnixNano())
}

func (r *replica) markUp() {
	if r.downUntil.Load() != 0 {
		r.downUntil.Store(0)
	}
}

// redact hides the password of a URL-form DSN; a key=value DSN is not
// printed at all.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		return "(DSN not shown)"
	}
	return u.Redacted()
}

var _ linkstore.Store = (*Store)(nil)
