// Package sqlitestore is the embedded link store: SQLite through
// modernc.org/sqlite (no cgo) and database/sql. It needs nothing
// installed, and the control plane and the edge may open the same file,
// from one process or from two.
//
// # Concurrency
//
// SQLite lets one writer at a time change a database file; in WAL mode
// readers neither block the writer nor wait for it. A Store therefore keeps
// two pools on the file:
//
//   - one write connection (MaxOpenConns 1) for Create, CreateMany,
//     Update, Delete and the migrations. The writers of one Store queue
//     for it inside database/sql, in order and honouring their contexts,
//     instead of polling SQLite's file lock against each other;
//   - several read-only connections (query_only) for Get, Lookup and
//     List, which run in parallel with each other and with the writer.
//
// Writers of other Stores on the same file (a second Store in the process,
// or another process) still contend for SQLite's write lock. Every write
// here is one short statement or one short transaction (a CreateMany
// batch, a migration): the lock is held for well under a millisecond per
// link, and busy_timeout makes a writer that finds it taken wait and
// retry for up to 10 s instead of failing at once with SQLITE_BUSY; the
// wait ends early if the caller's context is done. Transactions begin
// IMMEDIATE (_txlock=immediate): they take the write lock at BEGIN, where
// busy_timeout applies. A deferred transaction that reads first and writes
// later could not wait: when another writer commits in between, SQLite
// fails the upgrade at once with SQLITE_BUSY_SNAPSHOT.
//
// synchronous=NORMAL with WAL: a commit survives a crash of the process; a
// power loss may lose the last commits but never corrupts the file.
//
// Times are stored as INTEGER Unix microseconds in UTC, which round-trips
// exactly at PostgreSQL's precision. A link's smart options are JSON text
// in the column smart, NULL for a plain link; the click counts of limited
// links are the table link_clicks, claimed on the write connection
// (ClaimClick, clicks.go).
//
// # SQL functions
//
// The package registers two deterministic SQL functions with the driver,
// for every connection it opens: shortify_reverse(text), which the index
// that List uses to match hosts and subdomains is built on (PostgreSQL's
// reverse()), and shortify_url_host(text), the host of a URL as the store
// derives it, which migration 0002 uses to fill the host column. (List's
// tag filter and search use SQLite's lower(), which folds ASCII letters
// alone: linkstore.FoldASCII.) A program
// without them (the sqlite3 shell) can read the file, but cannot write to
// the links table: SQLite needs shortify_reverse to maintain the index.
package sqlitestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/smartlink"
	"github.com/shortify/shortify/internal/storedsn"
	"github.com/shortify/shortify/internal/workspace"
)

// busyTimeoutMS is how long a write waits for another connection's write
// lock before it fails with SQLITE_BUSY.
const busyTimeoutMS = 10_000

const (
	sqlInsert = `INSERT INTO links (code, id, url, status, created_at, expires_at, disabled, host, workspace_id, domain, smart, title, tags, notes, external_id)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	// sqlInsertIgnore is CreateMany's insert: a domain and code that
	// exist are skipped (no row changed) instead of failing the
	// statement. The conflict has no target, so that it
	// covers every unique index whichever the schema has, as pgstore's.
	sqlInsertIgnore = sqlInsert + ` ON CONFLICT DO NOTHING`
	// sqlSelect reads a row whatever its state: the caller's view (the
	// owner's or the edge's, see linkstore.Link) decides what it sees.
	sqlSelect = `SELECT ` + linkColumns + ` FROM links WHERE code = ? AND domain = ?`
)

// Store is a linkstore.Store on a SQLite file. It is safe for concurrent
// use.
type Store struct {
	w, r      *sql.DB
	insert    *sql.Stmt
	insertIgn *sql.Stmt
	update    *sql.Stmt
	delete    *sql.Stmt
	selectOne *sql.Stmt
	closeOnce sync.Once
}

// Open opens (creating it and its directory when needed) the SQLite file
// named by cfg.DSN, sqlite://PATH or sqlite:PATH, and applies the
// migrations. cfg.MaxConns bounds the read connections (default: the
// larger of 4 and GOMAXPROCS); writes always use one connection.
func Open(ctx context.Context, cfg linkstore.Config) (*Store, error) {
	path, err := ParseDSN(cfg.DSN)
	if err != nil {
		return nil, err
	}
	if len(cfg.ReadDSNs) > 0 {
		return nil, errors.New("sqlitestore: read DSNs are for PostgreSQL replicas; SQLite has none")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("sqlitestore: %w", err)
	}

	s := &Store{}
	busy := fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS)
	wq := url.Values{
		"_pragma": {busy, "foreign_keys(1)", "journal_mode(WAL)", "synchronous(NORMAL)"},
		"_txlock": {"immediate"},
	}
	if s.w, err = sql.Open("sqlite", path+"?"+wq.Encode()); err != nil {
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	s.w.SetMaxOpenConns(1)
	s.w.SetMaxIdleConns(1)
	if err := migrate(ctx, s.w); err != nil {
		s.w.Close()
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}

	readers := int(cfg.MaxConns)
	if readers <= 0 {
		readers = max(4, runtime.GOMAXPROCS(0))
	}
	rq := url.Values{"_pragma": {busy, "foreign_keys(1)", "query_only(1)"}}
	if s.r, err = sql.Open("sqlite", path+"?"+rq.Encode()); err != nil {
		s.w.Close()
		return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
	}
	s.r.SetMaxOpenConns(readers)
	s.r.SetMaxIdleConns(readers) // no reconnects (and pragmas) under load

	for _, p := range []struct {
		db   *sql.DB
		sql  string
		stmt **sql.Stmt
	}{
		{s.w, sqlInsert, &s.insert},
		{s.w, sqlInsertIgnore, &s.insertIgn},
		{s.w, sqlUpdate, &s.update},
		{s.w, sqlDelete, &s.delete},
		{s.r, sqlSelect, &s.selectOne},
	} {
		if *p.stmt, err = p.db.PrepareContext(ctx, p.sql); err != nil {
			s.Close()
			return nil, fmt.Errorf("sqlitestore: open %s: %w", path, err)
		}
	}
	return s, nil
}

// ParseDSN returns the file path of a sqlite://PATH or sqlite:PATH DSN
// (storedsn.Parse, refusing any other dialect). PATH is taken as written
// (relative or absolute; sqlite:///abs is /abs).
func ParseDSN(dsn string) (string, error) {
	d, err := storedsn.Parse(dsn)
	switch {
	case err != nil:
		return "", fmt.Errorf("sqlitestore: %w", err)
	case d.Dialect != storedsn.SQLite:
		return "", errors.New("sqlitestore: DSN must be sqlite://PATH or sqlite:PATH")
	}
	return d.Path, nil
}

// Create inserts l, or returns linkstore.ErrCodeTaken (or an
// *linkstore.ExternalIDTakenError).
func (s *Store) Create(ctx context.Context, l linkstore.Link) error {
	if err := l.Validate(); err != nil {
		return fmt.Errorf("sqlitestore: create %q: %w", l.Code, err)
	}
	if l.ExternalID != "" {
		// CreateMany names the link that has the external ID already.
		return s.CreateMany(ctx, []linkstore.Link{l})[0]
	}
	args, err := insertArgs(l)
	if err != nil {
		return fmt.Errorf("sqlitestore: create %q: %w", l.Code, err)
	}
	_, err = s.insert.ExecContext(ctx, args...)
	if err != nil {
		if se, ok := errors.AsType[*sqlite.Error](err); ok &&
			(se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY || se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE) {
			return linkstore.ErrCodeTaken
		}
		return fmt.Errorf("sqlitestore: create %q: %w", l.Code, err)
	}
	return nil
}

// insertArgs returns the arguments of sqlInsert for l.
func insertArgs(l linkstore.Link) ([]any, error) {
	expires := sql.NullInt64{Int64: l.ExpiresAt.UnixMicro(), Valid: !l.ExpiresAt.IsZero()}
	host := linkstore.HostOf(l.URL)
	smart, err := storedSmart(l.Smart)
	if err != nil {
		return nil, err
	}
	return []any{l.Code, l.ID, l.URL, l.Status, l.CreatedAt.UnixMicro(), expires, l.Disabled,
		sql.NullString{String: host, Valid: host != ""}, workspace.Of(l.WorkspaceID), l.Domain, smart,
		textOrNull(l.Title), storedTags(l.Tags), textOrNull(l.Notes), textOrNull(l.ExternalID)}, nil
}

// textOrNull is s as a text value, NULL for "".
func textOrNull(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// storedTags is the tags column's value for tags: cleaned
// (linkstore.CleanTags) and joined by newlines, NULL for none.
func storedTags(tags []string) sql.NullString {
	return textOrNull(strings.Join(linkstore.CleanTags(tags), "\n"))
}

// storedSmart returns the smart column's value for o: its stored JSON as
// text, NULL for a plain link.
func storedSmart(o smartlink.Options) (sql.NullString, error) {
	b, err := o.MarshalStored()
	if err != nil {
		return sql.NullString{}, err
	}
	return sql.NullString{String: string(b), Valid: b != nil}, nil
}

// Get reads a live link. Every connection reads the same file, and a
// write is visible to all of them once Create returns: Get and Lookup
// differ only in the links they see.
func (s *Store) Get(ctx context.Context, domain, code string) (linkstore.Link, error) {
	l, err := s.get(ctx, domain, code, linkstore.Link.OwnerSees)
	if err != nil && !errors.Is(err, linkstore.ErrNotFound) {
		return linkstore.Link{}, fmt.Errorf("sqlitestore: get %q: %w", code, err)
	}
	return l, err
}

// Lookup reads a link for the redirect path. Unknown codes return the bare
// linkstore.ErrNotFound.
func (s *Store) Lookup(ctx context.Context, domain, code string) (linkstore.Link, error) {
	l, err := s.get(ctx, domain, code, linkstore.Link.EdgeSees)
	if err != nil && !errors.Is(err, linkstore.ErrNotFound) {
		return linkstore.Link{}, fmt.Errorf("sqlitestore: lookup %q: %w", code, err)
	}
	return l, err
}

// LookupPrimary is Lookup: SQLite has no replicas.
func (s *Store) LookupPrimary(ctx context.Context, domain, code string) (linkstore.Link, error) {
	return s.Lookup(ctx, domain, code)
}

// get reads one link that view sees, or returns linkstore.ErrNotFound.
func (s *Store) get(ctx context.Context, domain, code string, view func(linkstore.Link) bool) (linkstore.Link, error) {
	l, err := scanLink(s.selectOne.QueryRowContext(ctx, code, domain), code)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && !view(l)) {
		return linkstore.Link{}, linkstore.ErrNotFound
	}
	return l, err
}

// Ping checks that the database file can be read.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.r.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlitestore: ping: %w", err)
	}
	return nil
}

// Close closes the statements and connections. It may be called more than
// once.
func (s *Store) Close() {
	s.closeOnce.Do(func() {
		for _, st := range []*sql.Stmt{s.insert, s.insertIgn, s.update, s.delete, s.selectOne} {
			if st != nil {
				st.Close()
			}
		}
		if s.r != nil {
			s.r.Close()
		}
		s.w.Close() // last: the last connection to close checkpoints the WAL
	})
}

var _ linkstore.Store = (*Store)(nil)
