package sqlitestore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"time"

	"modernc.org/sqlite"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/smartlink"
	"github.com/shortify/shortify/internal/workspace"
)

func init() {
	// See "SQL functions" in the package documentation.
	sqlite.MustRegisterDeterministicScalarFunction("shortify_reverse", 1, textFunc(linkstore.ReverseRunes))
	sqlite.MustRegisterDeterministicScalarFunction("shortify_url_host", 1, textFunc(linkstore.HostOf))
}

// textFunc makes f a SQL function of one text argument: NULL gives NULL,
// and so does an empty result.
func textFunc(f func(string) string) func(*sqlite.FunctionContext, []driver.Value) (driver.Value, error) {
	return func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		var s string
		switch v := args[0].(type) {
		case nil:
			return nil, nil
		case string:
			s = v
		case []byte:
			s = string(v)
		default:
			return nil, fmt.Errorf("want a text argument, got %T", v)
		}
		if r := f(s); r != "" {
			return r, nil
		}
		return nil, nil
	}
}

// sqlUpdate changes the fields whose flag or value is set: ?2, ?6 and ?10
// say whether the URL (and with it the host), the expiry and the smart
// options change, because NULL is a value for host, expires_at and smart.
const sqlUpdate = `UPDATE links SET
	url        = CASE WHEN ?2 THEN ?3 ELSE url END,
	host       = CASE WHEN ?2 THEN ?4 ELSE host END,
	status     = coalesce(?5, status),
	expires_at = CASE WHEN ?6 THEN ?7 ELSE expires_at END,
	disabled   = coalesce(?8, disabled),
	smart      = CASE WHEN ?10 THEN ?11 ELSE smart END,
	title      = CASE WHEN ?12 THEN ?13 ELSE title END,
	tags       = CASE WHEN ?14 THEN ?15 ELSE tags END,
	notes      = CASE WHEN ?16 THEN ?17 ELSE notes END,
	external_id = CASE WHEN ?18 THEN ?19 ELSE external_id END
WHERE code = ?1 AND domain = ?9 AND retired_at IS NULL AND takedown_at IS NULL
RETURNING ` + linkColumns

// CreateMany inserts links in one transaction on the write connection and
// returns a result for each: nil, linkstore.ErrCodeTaken (the domain and
// code exist, or an earlier valid link of the batch has them: that one is
// inserted first), an error wrapping linkstore.ErrInvalidLink (Link.Validate
// fails), or the error that failed the transaction for every link it
// would have inserted.
func (s *Store) CreateMany(ctx context.Context, links []linkstore.Link) []error {
	errs := make([]error, len(links))
	valid := make([]int, 0, len(links))
	for i, l := range links {
		if err := l.Validate(); err != nil {
			errs[i] = fmt.Errorf("sqlitestore: create %q: %w", l.Code, err)
			continue
		}
		valid = append(valid, i)
	}
	if len(valid) == 0 {
		return errs
	}
	err := s.insertMany(ctx, links, valid, errs)
	if err != nil {
		err = fmt.Errorf("sqlitestore: create %d links: %w", len(valid), err)
	}
	for _, i := range valid {
		if err != nil && errs[i] == nil {
			errs[i] = err
		}
	}
	return errs
}

// insertMany inserts links[i] for each i in valid, in one transaction,
// setting errs[i] to linkstore.ErrCodeTaken for the keys that exist. An
// error returned rolled the transaction back.
func (s *Store) insertMany(ctx context.Context, links []linkstore.Link, valid []int, errs []error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // after Commit, a no-op
	insert := tx.StmtContext(ctx, s.insertIgn)
	extIDs := make(map[externalIDKey]linkstore.Key)
	for _, i := range valid {
		if errs[i], err = takenExternalID(ctx, tx, links[i], extIDs); err != nil {
			return err
		}
		if errs[i] != nil {
			continue
		}
		args, err := insertArgs(links[i])
		if err != nil {
			return err
		}
		res, err := insert.ExecContext(ctx, args...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			errs[i] = linkstore.ErrCodeTaken
		} else if l := links[i]; l.ExternalID != "" {
			extIDs[externalIDKey{workspace.Of(l.WorkspaceID), l.ExternalID}] = l.Key()
		}
	}
	return tx.Commit()
}

// Update applies u to the link with the code in one statement and returns
// the link as it is afterwards, or linkstore.ErrNotFound. An Update with
// no field set reads the link.
func (s *Store) Update(ctx context.Context, domain, code string, u linkstore.Update) (linkstore.Link, error) {
	if u.IsZero() {
		return s.Get(ctx, domain, code)
	}
	if err := u.Validate(); err != nil {
		return linkstore.Link{}, fmt.Errorf("sqlitestore: update %q: %w", code, err)
	}
	var (
		setURL  = u.URL != nil
		newURL  string
		host    sql.NullString
		status  sql.NullInt64
		setExp  = u.ExpiresAt != nil
		expires sql.NullInt64
		dis     sql.NullBool
		smart   sql.NullString
	)
	if u.Smart != nil {
		var err error
		if smart, err = storedSmart(*u.Smart); err != nil {
			return linkstore.Link{}, fmt.Errorf("sqlitestore: update %q: %w", code, err)
		}
	}
	if setURL {
		newURL = *u.URL
		h := linkstore.HostOf(newURL)
		host = sql.NullString{String: h, Valid: h != ""}
	}
	if u.Status != nil {
		status = sql.NullInt64{Int64: int64(*u.Status), Valid: true}
	}
	if setExp && !u.ExpiresAt.IsZero() {
		expires = sql.NullInt64{Int64: u.ExpiresAt.UnixMicro(), Valid: true}
	}
	if u.Disabled != nil {
		dis = sql.NullBool{Bool: *u.Disabled, Valid: true}
	}
	l, err := scanLink(s.update.QueryRowContext(ctx,
		code, setURL, newURL, host, status, setExp, expires, dis, domain, u.Smart != nil, smart,
		u.Title != nil, textOrNull(deref(u.Title)), u.Tags != nil, storedTags(deref(u.Tags)),
		u.Notes != nil, textOrNull(deref(u.Notes)), u.ExternalID != nil, textOrNull(deref(u.ExternalID))), code)
	if err != nil && deref(u.ExternalID) != "" {
		err = s.externalIDConflict(ctx, domain, code, *u.ExternalID, err)
	}
	switch {
	case errors.Is(err, linkstore.ErrExternalIDTaken):
		return linkstore.Link{}, err
	case errors.Is(err, sql.ErrNoRows):
		// Taken down, or no live link: Get says which (its own errors
		// come wrapped).
		return linkstore.Link{}, linkstore.UpdateMissed(s.Get(ctx, domain, code))
	case err != nil:
		return linkstore.Link{}, fmt.Errorf("sqlitestore: update %q: %w", code, err)
	}
	return l, nil
}

// sqlDelete retires one live link and returns it, in the one statement
// (SQLite 3.35 and later have RETURNING). It disables the link too, as
// pgstore's does, so that a reader that predates retirement never
// redirects it.
const sqlDelete = `UPDATE links SET retired_at = ?2, retired_reason = 'deleted', disabled = true
WHERE code = ?1 AND domain = ?3 AND retired_at IS NULL
RETURNING ` + linkColumns

// Delete retires a live link (reason deleted) and returns it as it is
// afterwards, or returns linkstore.ErrNotFound.
func (s *Store) Delete(ctx context.Context, domain, code string) (linkstore.Link, error) {
	return changedLink(s.delete.QueryRowContext(ctx, code, time.Now().UnixMicro(), domain), code, "delete")
}

// changedLink scans the live link that a statement changed and returned
// (RETURNING linkColumns), or returns linkstore.ErrNotFound when it
// matched none; what names the change in an error.
func changedLink(row *sql.Row, code, what string) (linkstore.Link, error) {
	l, err := scanLink(row, code)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return linkstore.Link{}, linkstore.ErrNotFound
	case err != nil:
		return linkstore.Link{}, fmt.Errorf("sqlitestore: %s %q: %w", what, code, err)
	}
	return l, nil
}

// scanner holds the destinations of linkColumns (after the code, for
// listColumns) and makes a link of them.
type scanner struct {
	l                             linkstore.Link
	created                       int64
	expires, retired, takedown    sql.NullInt64
	retiredReason, takedownReason sql.NullString
	smart                         []byte
	title, tags, notes, extID     sql.NullString
}

// dest returns the destinations of linkColumns, preceded by the code's
// when withCode (listColumns).
func (sc *scanner) dest(withCode bool) []any {
	d := []any{&sc.l.ID, &sc.l.URL, &sc.l.Status, &sc.created, &sc.expires, &sc.l.Disabled,
		&sc.retired, &sc.retiredReason, &sc.takedownReason, &sc.takedown, &sc.l.WorkspaceID, &sc.l.Domain, &sc.smart,
		&sc.title, &sc.tags, &sc.notes, &sc.extID, &sc.l.Clicks, &sc.l.ClicksHumans}
	if withCode {
		return append([]any{&sc.l.Code}, d...)
	}
	return d
}

// link returns the scanned link, its times in UTC (a NULL time is zero),
// or an error when its smart options do not parse: a damaged row must
// not read as a plain link (its password or click limit would be lost).
func (sc *scanner) link() (linkstore.Link, error) {
	l := sc.l
	var err error
	if l.Smart, err = smartlink.ParseStored(sc.smart); err != nil {
		return linkstore.Link{}, fmt.Errorf("link %d: %w", l.ID, err)
	}
	l.CreatedAt = time.UnixMicro(sc.created).UTC()
	l.ExpiresAt = microsOrZero(sc.expires)
	l.RetiredAt = microsOrZero(sc.retired)
	l.RetiredReason = linkstore.RetiredReason(sc.retiredReason.String)
	l.TakedownAt = microsOrZero(sc.takedown)
	l.TakedownReason = sc.takedownReason.String
	l.Title, l.Notes, l.ExternalID = sc.title.String, sc.notes.String, sc.extID.String
	if sc.tags.String != "" {
		l.Tags = strings.Split(sc.tags.String, "\n")
	}
	return l, nil
}

func microsOrZero(t sql.NullInt64) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return time.UnixMicro(t.Int64).UTC()
}

// scanLink scans linkColumns.
func scanLink(row *sql.Row, code string) (linkstore.Link, error) {
	var sc scanner
	if err := row.Scan(sc.dest(false)...); err != nil {
		return linkstore.Link{}, err
	}
	l, err := sc.link()
	if err != nil {
		return linkstore.Link{}, err
	}
	l.Code = code
	return l, nil
}

// scanRows reads rows of listColumns, with room for capacity of them to
// begin with, and closes rows.
func scanRows(rows *sql.Rows, capacity int) ([]linkstore.Link, error) {
	defer rows.Close()
	links := make([]linkstore.Link, 0, capacity)
	var sc scanner
	for rows.Next() {
		if err := rows.Scan(sc.dest(true)...); err != nil {
			return nil, err
		}
		l, err := sc.link()
		if err != nil {
			return nil, fmt.Errorf("code %q: %w", sc.l.Code, err)
		}
		links = append(links, l)
	}
	return links, rows.Err()
}

// List returns up to q.Limit links matching q, newest (highest ID) first,
// from a read connection.
//
// The query has the shape of pgstore's: ID bounds (the cursor folded into
// the upper one) read the (id) index backwards, and a host is matched
// exactly and as a subdomain by two branches of a UNION ALL on the
// (shortify_reverse(host), id) index: equality, read in ID order, and the
// range [reverse(host)+".", reverse(host)+"/"), sorted.
//
// Unlike PostgreSQL's, SQLite's planner cannot tell a rare host or prefix
// from a common one here: that takes sqlite_stat4 samples, which only a
// full ANALYZE gathers (seconds under the write lock on a large file), and
// connections opened before it keep planning with what they loaded. Left
// to itself it reads both through the (id) index with a filter, which for
// a filter that few links pass is the whole table. So the queries name
// their index: the subdomain branch reads the host index (INDEXED BY),
// and a prefix without a host reads the primary key's range (the unary +
// on id keeps the (id) index out), each sorting what it finds. The cost
// follows the number of links that pass the filter, which is what a
// filter in a listing is for; a filter that most links pass costs a sort
// of those.
//
// The search (q) reads the links_fts trigram index (migration 0012) for
// the IDs of the links that hold the term, then keeps instr()'s exact,
// ASCII-case-insensitive test on those: the index folds Unicode case, so
// it finds a superset. Without a host, the index's matches within the ID
// bounds drive the query: newest first, they are read in the index's
// order and the LIMIT ends the reading; by clicks, they are all read and
// sorted, a cost that follows the number of matches, as the other
// filters' does (testing the workspace's links in clicks order against
// the index's list instead reads the whole workspace for a rare term).
// With a host, the host index's rows are tested against that list. A
// term with a newline can span two fields of the newline-joined text,
// which the index holds apart: it scans, as before.
func (s *Store) List(ctx context.Context, q linkstore.ListQuery) ([]linkstore.Link, error) {
	b, err := q.Bounds()
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: list: %w", err)
	}
	if b.Empty() {
		return []linkstore.Link{}, nil
	}
	query, args := listQuery(b)
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: list: %w", err)
	}
	links, err := scanRows(rows, min(b.Limit, 64))
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: list: %w", err)
	}
	return links, nil
}

// linkColumns are the columns of a link after its code, as scanner reads
// them; listColumns the same with the code first.
const (
	linkColumns = "id, url, status, created_at, expires_at, disabled, retired_at, retired_reason, takedown_reason, takedown_at, workspace_id, domain, smart, title, tags, notes, external_id, clicks, clicks_humans"
	listColumns = "code, " + linkColumns
)

// listQuery builds the query for b and its arguments. The parameters are
// numbered (?NNN) so that both branches of a host query share them.
func listQuery(b linkstore.ListBounds) (string, []any) { return buildListQuery(b, true) }

// buildListQuery is listQuery, with the search's index read or not
// (useIndex false: the scan that the tests compare it with).
func buildListQuery(b linkstore.ListBounds, useIndex bool) (string, []any) {
	args := []any{b.MinID, b.MaxID, b.Limit}
	param := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("?%d", len(args))
	}
	where := "id BETWEEN ?1 AND ?2 AND retired_at IS NULL"
	if b.Prefix != "" && b.Host == "" {
		where = "+id BETWEEN ?1 AND ?2 AND retired_at IS NULL" // read the primary key's range, not (id)
	}
	if b.WorkspaceID != 0 {
		where += " AND workspace_id = " + param(b.WorkspaceID)
	}
	if b.Domain != "" {
		where += " AND domain = " + param(b.Domain)
	}
	if b.Prefix != "" {
		where += " AND code >= " + param(b.Prefix)
		if b.HasPrefixEnd {
			where += " AND code < " + param(b.PrefixEnd)
		}
	}
	for _, t := range b.Tags {
		where += " AND instr(char(10) || lower(tags) || char(10), " + param("\n"+t+"\n") + ") > 0"
	}
	if b.ExternalID != "" {
		where += " AND external_id = " + param(b.ExternalID)
	}
	from, byID := "links", "id"
	if b.Query != "" {
		if !useIndex || strings.Contains(b.Query, "\n") {
			// The index holds the fields apart: scan (see List).
		} else if b.Host == "" {
			// The index's matches, newest first, drive the query (see
			// List); the flattened subquery keeps the index's columns
			// (code, url, ...) out of the names of the outer query.
			from = "(SELECT rowid AS fts_id FROM links_fts WHERE links_fts MATCH " + param(ftsPhrase(b.Query)) +
				" AND rowid BETWEEN ?1 AND ?2 ORDER BY rowid DESC) AS m CROSS JOIN links ON links.id = m.fts_id"
			byID = "m.fts_id"
		} else {
			where += " AND id IN (SELECT rowid FROM links_fts WHERE links_fts MATCH " + param(ftsPhrase(b.Query)) + ")"
		}
		// The exact test on the index's candidates.
		where += " AND instr(lower(code || char(10) || url || char(10) || coalesce(title, '') || char(10) || coalesce(tags, '')), " +
			param(b.Query) + ") > 0"
	}
	order := " ORDER BY " + byID + " DESC LIMIT ?3"
	if b.ByClicks {
		order = " ORDER BY clicks DESC, id DESC LIMIT ?3"
		if b.HasAfter {
			where += " AND (clicks, id) < (" + param(b.AfterClicks) + ", " + param(b.AfterID) + ")"
		}
	}
	if b.Host == "" {
		return "SELECT " + listColumns + " FROM " + from + " WHERE " + where + order, args
	}
	r := linkstore.ReverseRunes(b.Host)
	exact := "shortify_reverse(host) = " + param(r)
	sub := "shortify_reverse(host) >= " + param(r+".") + " AND shortify_reverse(host) < " + param(r+"/")
	return "SELECT " + listColumns + " FROM (SELECT * FROM (" +
		"SELECT " + listColumns + " FROM links WHERE " + exact + " AND " + where + order +
		") UNION ALL SELECT * FROM (" +
		"SELECT " + listColumns + " FROM links INDEXED BY links_host_id_idx WHERE " + sub + " AND " + where + order +
		"))" + order, args
}

// ftsPhrase is q as an FTS5 string: its double quotes doubled, the whole
// in double quotes, so that the trigram tokenizer reads it as one phrase
// (a substring) and no character of it as FTS5 query syntax.
func ftsPhrase(q string) string {
	return `"` + strings.ReplaceAll(q, `"`, `""`) + `"`
}

// deref is *p, or the zero value for nil.
func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}
