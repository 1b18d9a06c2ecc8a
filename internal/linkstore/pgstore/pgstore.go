// Package pgstore is the PostgreSQL link store (pgx/v5): writes and Get go
// to the primary; Lookup, the redirect path's L3, reads from the read
// replicas round-robin and falls back to the primary. A background check
// per replica (replicas.go) measures its health and replication lag and
// keeps it out of the rotation while it is down or too far behind.
//
// The links table is PARTITION BY HASH (code) with 16 partitions and a
// unique index on (code, domain), its only key since migration 0007
// dropped the primary key on code (see migrations/, 0006 and 0007), so
// every (domain, code) is unique in the database, the same alias may name
// one link per domain, and every read or write by domain and code touches
// one partition. List
// reads all partitions through the indexes on (id) and (reverse(host), id)
// that migration 0002 adds, each partition's scan ordered by ID and merged.
//
// A link's smart options are the jsonb column smart (migration 0008), NULL
// for a plain link; the exact click counter of limited links is the table
// link_clicks, claimed on the primary (ClaimClick, clicks.go).
//
// Queries are constant strings with positional parameters: pgx's default
// exec mode prepares each one once per connection and reuses it. Lookups
// run on pools whose connections keep generic plans (newPool), so that
// each is planned once per connection; List's are the exception, planned
// anew for their values each time (see List). Concurrent Lookups share
// queries (lookupbatch.go).
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shortify/shortify/internal/batcher"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/smartlink"
	"github.com/shortify/shortify/internal/tracing"
	"github.com/shortify/shortify/internal/workspace"
)

const (
	sqlInsert = `INSERT INTO links (code, id, url, status, created_at, expires_at, disabled, host, workspace_id, domain, smart, title, tags, notes, external_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::text::jsonb, $12, $13, $14, $15)`
	// sqlSelect reads a row whatever its state: the caller's view (the
	// owner's or the edge's, see linkstore.Link) decides what it sees.
	sqlSelect = `SELECT ` + linkColumns + ` FROM links WHERE code = $1 AND domain = $2`
	// sqlLookup is sqlSelect for the redirect path: edgeColumns.
	sqlLookup = `SELECT ` + edgeColumns + ` FROM links WHERE code = $1 AND domain = $2`
)

// pgUniqueViolation is the SQLSTATE of unique_violation.
const pgUniqueViolation = "23505"

// Store is a linkstore.Store on PostgreSQL. It is safe for concurrent use.
type Store struct {
	primary *pgxpool.Pool
	// reader is the lookups' pool on the primary: the same server, its
	// connections on generic plans (newPool); lazy, like every pool, so
	// a process that never looks up opens none.
	reader   *pgxpool.Pool
	replicas []*replica
	next     atomic.Uint64 // round-robin counter over replicas
	reads    readStats
	// lookups is how long lookups on the primary take (budget.go).
	lookups lookupClock
	// batch coalesces concurrent Lookups (lookupbatch.go).
	batch *batcher.Batcher[linkstore.Key, linkstore.Link]

	stopChecks context.CancelFunc // nil until the checks start
	checks     sync.WaitGroup     // the replicas' check goroutines
	closeOnce  sync.Once
}

// Open connects to the primary (cfg.DSN) and to the replicas
// (cfg.ReadDSNs), pings the primary, and applies the migrations when
// cfg.Migrate is set. Replicas are connected lazily: one that is down does
// not keep the store from opening. Each replica joins Lookup's rotation
// once its background check has found it up and within
// cfg.ReplicaMaxLag; until then lookups go to the primary.
func Open(ctx context.Context, cfg linkstore.Config) (*Store, error) {
	return openWith(ctx, cfg, defaultOptions(cfg.ReplicaMaxLag))
}

func openWith(ctx context.Context, cfg linkstore.Config, o options) (*Store, error) {
	primary, err := newPool(cfg.DSN, cfg.MaxConns, 0, false)
	if err != nil {
		return nil, fmt.Errorf("pgstore: primary: %w", err)
	}
	reader, err := newPool(cfg.DSN, cfg.MaxConns, 0, true)
	if err != nil {
		primary.Close()
		return nil, fmt.Errorf("pgstore: primary: %w", err)
	}
	s := &Store{primary: primary, reader: reader}
	s.batch = batcher.New(s.lookupBatch, lookupBatchMax, lookupFlights(reader))
	for i, dsn := range cfg.ReadDSNs {
		p, err := newPool(dsn, cfg.MaxConns, replicaConnectTimeout, true)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("pgstore: read DSN %d: %w", i, err)
		}
		s.replicas = append(s.replicas, newReplica(p))
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
	s.startChecks(o)
	return s, nil
}

// newPool makes a pool of dsn. A pool for lookups alone (lookups) runs
// its prepared statements on generic plans: with plan_cache_mode auto,
// PostgreSQL estimates a generic plan of a query on the partitioned links
// table (every partition, pruned when execution starts) dearer than a
// custom one (one partition, pruned while planning) and plans every
// lookup anew, partitions and all; forced generic, a lookup's statement is
// planned once per connection (TestLookupPlansStayGeneric). Not for the
// primary's own pool: List's unnamed statements must stay planned for
// their values (see List), and the setting would make them generic too.
func newPool(dsn string, maxConns int32, connectTimeout time.Duration, lookups bool) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(dsn) // its errors redact the password
	if err != nil {
		return nil, err
	}
	if lookups {
		pc.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_generic_plan"
	}
	if maxConns > 0 {
		pc.MaxConns = maxConns
	}
	pc.PrepareConn = prepareConn // lookups keep a budget (budget.go)
	if pc.ConnConfig.ConnectTimeout == 0 {
		pc.ConnConfig.ConnectTimeout = connectTimeout
	}
	tracing.InstrumentPool(pc) // queries as spans under their callers' (nothing while tracing is off)
	return pgxpool.NewWithConfig(context.Background(), pc)
}

// Primary returns the primary's pool, for packages that keep their own
// tables in the same database.
func (s *Store) Primary() *pgxpool.Pool { return s.primary }

// Create inserts l, or returns linkstore.ErrCodeTaken (or an
// *linkstore.ExternalIDTakenError).
func (s *Store) Create(ctx context.Context, l linkstore.Link) error {
	if err := l.Validate(); err != nil {
		return fmt.Errorf("pgstore: create %q: %w", l.Code, err)
	}
	if l.ExternalID != "" {
		// The external ID's check and insert share a transaction.
		return s.CreateMany(ctx, []linkstore.Link{l})[0]
	}
	args, err := insertArgs(l)
	if err != nil {
		return fmt.Errorf("pgstore: create %q: %w", l.Code, err)
	}
	_, err = s.primary.Exec(ctx, sqlInsert, args...)
	if err != nil {
		if pgErr, ok := errors.AsType[*pgconn.PgError](err); ok && pgErr.Code == pgUniqueViolation {
			return linkstore.ErrCodeTaken
		}
		return fmt.Errorf("pgstore: create %q: %w", l.Code, err)
	}
	return nil
}

// insertArgs returns the arguments of sqlInsert for l.
func insertArgs(l linkstore.Link) ([]any, error) {
	host := linkstore.HostOf(l.URL)
	smart, err := storedSmart(l.Smart)
	if err != nil {
		return nil, err
	}
	return []any{l.Code, l.ID, l.URL, l.Status, l.CreatedAt,
		pgtype.Timestamptz{Time: l.ExpiresAt, Valid: !l.ExpiresAt.IsZero()}, l.Disabled,
		pgtype.Text{String: host, Valid: host != ""},
		workspace.Of(l.WorkspaceID), l.Domain, smart,
		textOrNull(l.Title), storedTags(l.Tags), textOrNull(l.Notes), textOrNull(l.ExternalID)}, nil
}

// textOrNull is s as a text value, NULL for "".
func textOrNull(s string) pgtype.Text { return pgtype.Text{String: s, Valid: s != ""} }

// storedTags is the tags column's value for tags: cleaned
// (linkstore.CleanTags), NULL for none.
func storedTags(tags []string) []string {
	return linkstore.CleanTags(tags) // nil for none: NULL
}

// storedSmart returns the smart column's value for o: its stored JSON as
// text (cast to jsonb by the statements), NULL for a plain link.
func storedSmart(o smartlink.Options) (pgtype.Text, error) {
	b, err := o.MarshalStored()
	if err != nil {
		return pgtype.Text{}, err
	}
	return pgtype.Text{String: string(b), Valid: b != nil}, nil
}

// Get reads a live link from the primary.
func (s *Store) Get(ctx context.Context, domain, code string) (linkstore.Link, error) {
	l, err := get(ctx, s.primary, nil, domain, code, false)
	if err != nil && !errors.Is(err, linkstore.ErrNotFound) {
		return linkstore.Link{}, fmt.Errorf("pgstore: get %q: %w", code, err)
	}
	return l, err
}

// Lookup reads a link from the next replica in rotation, else from the
// primary. A code the replica does not know, or a replica error, is
// retried on the primary, so replication lag never hides a new link; a
// replica error also takes the replica out of the rotation until its next
// check. Unknown codes return the bare linkstore.ErrNotFound (no
// allocation: most lookups that reach here for a guessed code miss).
//
// Lookups that run at the same time share queries (lookupbatch.go): each
// keeps its own budget (budget.go), its own context and its own answer.
func (s *Store) Lookup(ctx context.Context, domain, code string) (linkstore.Link, error) {
	if err := s.lookups.enough(ctx); err != nil {
		return linkstore.Link{}, fmt.Errorf("pgstore: lookup %q: %w", code, err)
	}
	l, err := s.batch.Do(ctx, linkstore.Key{Domain: domain, Code: code})
	if err != nil && err == ctx.Err() { // gave up waiting for its batch
		return linkstore.Link{}, fmt.Errorf("pgstore: lookup %q: %w", code, err)
	}
	return l, err
}

// lookupOne is Lookup of one code, on its own: Lookup's batch of one.
func (s *Store) lookupOne(ctx context.Context, domain, code string) (linkstore.Link, error) {
	confirm := false
	if r := s.pickReplica(); r != nil {
		l, err := get(ctx, r.pool, &r.lookups, domain, code, true)
		switch {
		case err == nil:
			s.reads.replicaHits.Add(1)
			return l, nil
		case errors.Is(err, linkstore.ErrNotFound):
			confirm = true
		case ctx.Err() != nil || errors.Is(err, ErrNoTime):
			// The caller gave up or ran out of time: that says nothing
			// certain about the replica, and the primary cannot be asked.
			return linkstore.Link{}, fmt.Errorf("pgstore: lookup %q: %w", code, err)
		default:
			r.failed()
		}
	}
	l, err := get(ctx, s.reader, &s.lookups, domain, code, true)
	if confirm {
		s.reads.confirmations.Add(1)
		if err == nil {
			s.reads.confirmedFound.Add(1)
		}
	} else {
		s.reads.primaryReads.Add(1)
	}
	if err != nil && !errors.Is(err, linkstore.ErrNotFound) {
		return linkstore.Link{}, fmt.Errorf("pgstore: lookup %q: %w", code, err)
	}
	return l, err
}

// LookupPrimary reads a link as Lookup does, from the primary.
func (s *Store) LookupPrimary(ctx context.Context, domain, code string) (linkstore.Link, error) {
	l, err := get(ctx, s.reader, &s.lookups, domain, code, true)
	if err != nil && !errors.Is(err, linkstore.ErrNotFound) {
		return linkstore.Link{}, fmt.Errorf("pgstore: lookup %q: %w", code, err)
	}
	return l, err
}

// Ping checks that the primary answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.primary.Ping(ctx); err != nil {
		return fmt.Errorf("pgstore: ping: %w", err)
	}
	return nil
}

// Close stops the replicas' checks, waits for them, and closes every
// pool. It may be called more than once.
func (s *Store) Close() {
	s.closeOnce.Do(func() {
		if s.stopChecks != nil {
			s.stopChecks()
		}
		s.checks.Wait()
		for _, r := range s.replicas {
			r.pool.Close()
		}
		if s.reader != nil {
			s.reader.Close()
		}
		s.primary.Close()
	})
}

// get reads one link that the owner sees, or when edge one that the
// redirect path sees (Link.EdgeSees), without its title, tags and notes
// (sqlLookup); it returns linkstore.ErrNotFound or the driver's error
// unwrapped, for the caller to wrap.
func get(ctx context.Context, pool *pgxpool.Pool, clock *lookupClock, domain, code string, edge bool) (linkstore.Link, error) {
	query, view := sqlSelect, linkstore.Link.OwnerSees
	if edge {
		query, view = sqlLookup, linkstore.Link.EdgeSees
	}
	if clock != nil { // a lookup: not started without the time to end (budget.go)
		var t *lookupTiming
		ctx, t = clock.withLookup(ctx)
		defer t.done()
	}
	l, err := scanRow(pool.QueryRow(ctx, query, code, domain), code, edge)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && !view(l)) {
		return linkstore.Link{}, linkstore.ErrNotFound
	}
	return l, err
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
