package pgstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/smartlink"
	"github.com/shortify/shortify/internal/workspace"
)

// sqlInsertMany inserts a batch given as one array per column: one
// statement whatever the batch size, so it is prepared once per
// connection. ON CONFLICT DO NOTHING skips a row that a unique index
// refuses: a (domain, code) that exists (or that a concurrent transaction
// inserts first); on a schema before migration 0007 (the contract step of
// 0006's rolling upgrade), a code that exists on any domain too.
// RETURNING names the rows inserted, so every key missing from it was
// taken.
//
// The conflict has no target on purpose: a target must match a unique
// index exactly, and the schema's change under a rolling upgrade (links_pkey
// on code until 0007, only links_code_domain_key after it, see
// docs/decisions/0004-workspace-links.md) would make any named one fail
// the statement on one side of it, as the previous release's
// ON CONFLICT (code) would once links_pkey is gone.
const sqlInsertMany = `INSERT INTO links (code, id, url, status, created_at, expires_at, disabled, host, workspace_id, domain, smart, title, tags, notes, external_id)
SELECT c, i, u, st, cr, ex, d, h, w, dm, sm::jsonb, ti, CASE WHEN tg = '' THEN NULL ELSE string_to_array(tg, E'\n') END, nt, xi
FROM unnest($1::text[], $2::bigint[], $3::text[], $4::smallint[],
	$5::timestamptz[], $6::timestamptz[], $7::boolean[], $8::text[], $9::bigint[], $10::text[], $11::text[],
	$12::text[], $13::text[], $14::text[], $15::text[])
	AS t (c, i, u, st, cr, ex, d, h, w, dm, sm, ti, tg, nt, xi)
ON CONFLICT DO NOTHING
RETURNING code, domain`

// A batch's tags travel as one text per link, the tags joined by
// newlines (which no tag holds, linkstore.ValidateTag), "" for none:
// unnest cannot take an array of arrays of different lengths.

// sqlInsertOne is CreateMany's statement for a batch of one: the plain
// insert costs less than unnest with one element (no arrays, no
// RETURNING), and at low load a batcher sends mostly batches of one. Its
// conflict has no target, for sqlInsertMany's reason.
const sqlInsertOne = sqlInsert + ` ON CONFLICT DO NOTHING`

// sqlUpdate changes the fields whose flag or value is set. $2, $6 and $10
// say whether the URL (and with it the host), the expiry and the smart
// options change, because NULL is a value for host, expires_at and smart.
const sqlUpdate = `UPDATE links SET
	url        = CASE WHEN $2::boolean THEN $3::text ELSE url END,
	host       = CASE WHEN $2::boolean THEN $4::text ELSE host END,
	status     = COALESCE($5::smallint, status),
	expires_at = CASE WHEN $6::boolean THEN $7::timestamptz ELSE expires_at END,
	disabled   = COALESCE($8::boolean, disabled),
	smart      = CASE WHEN $10::boolean THEN $11::text::jsonb ELSE smart END,
	title      = CASE WHEN $12::boolean THEN $13::text ELSE title END,
	tags       = CASE WHEN $14::boolean THEN $15::text[] ELSE tags END,
	notes      = CASE WHEN $16::boolean THEN $17::text ELSE notes END,
	external_id = CASE WHEN $18::boolean THEN $19::text ELSE external_id END
WHERE code = $1 AND domain = $9 AND retired_at IS NULL AND takedown_at IS NULL
RETURNING ` + linkColumns

// batch is the column arrays of one CreateMany statement.
type batch struct {
	codes    []string
	ids      []int64
	urls     []string
	statuses []int16
	created  []time.Time
	expires  []pgtype.Timestamptz
	disabled []bool
	hosts    []pgtype.Text
	wsIDs    []int64
	domains  []string
	smart    []pgtype.Text
	titles   []pgtype.Text
	tags     []string
	notes    []pgtype.Text
	extIDs   []pgtype.Text
}

// CreateMany inserts links with one statement (one transaction, one round
// trip) and returns a result for each: nil, linkstore.ErrCodeTaken (the
// domain and code exist, or an earlier valid link of the batch has them), an error
// wrapping linkstore.ErrInvalidLink (Link.Validate fails), or the
// statement's error for every link it carried.
//
// The rows are sent sorted by code and domain, so that two batches that
// share keys lock them in the same order and cannot deadlock. (On a
// schema before migration 0007, one code on several domains in a batch
// stored the first of them in that order, not in the batch's.)
func (s *Store) CreateMany(ctx context.Context, links []linkstore.Link) []error {
	errs := make([]error, len(links))
	// order holds the indexes of the links to send: valid, and the first
	// of their key in the batch.
	order := make([]int, 0, len(links))
	seen := make(map[linkstore.Key]bool, len(links))
	extIDs := newExternalIDs(len(links))
	for i, l := range links {
		if err := l.Validate(); err != nil {
			errs[i] = fmt.Errorf("pgstore: create %q: %w", l.Code, err)
			continue
		}
		if seen[l.Key()] {
			errs[i] = linkstore.ErrCodeTaken
			continue
		}
		if errs[i] = extIDs.add(l); errs[i] != nil {
			continue
		}
		seen[l.Key()] = true
		order = append(order, i)
	}
	if len(order) == 0 {
		return errs
	}
	if len(extIDs.keys) > 0 {
		// Check and insert under the external IDs' locks, in one
		// transaction.
		err := pgx.BeginFunc(ctx, s.primary, func(tx pgx.Tx) error {
			var err error
			order, err = extIDs.claim(ctx, tx, links, order, errs)
			if err != nil || len(order) == 0 {
				return err
			}
			return s.insertOrdered(ctx, tx, links, order, errs)
		})
		if err != nil {
			for _, i := range order {
				errs[i] = fmt.Errorf("pgstore: create %d links: %w", len(order), err)
			}
		}
		return errs
	}
	if err := s.insertOrdered(ctx, s.primary, links, order, errs); err != nil {
		for _, i := range order {
			errs[i] = fmt.Errorf("pgstore: create %d links: %w", len(order), err)
		}
	}
	return errs
}

// insertOrdered inserts the valid links links[i] for i in order, setting
// errs[i] to linkstore.ErrCodeTaken for those whose key was taken; an
// error returned is the statement's, for every one of them.
func (s *Store) insertOrdered(ctx context.Context, db dbtx, links []linkstore.Link, order []int, errs []error) error {
	if len(order) == 1 {
		i := order[0]
		errs[i] = s.insertOne(ctx, db, links[i])
		return nil
	}
	slices.SortFunc(order, func(a, b int) int {
		return cmp.Or(strings.Compare(links[a].Code, links[b].Code), strings.Compare(links[a].Domain, links[b].Domain))
	})

	n := len(order)
	var err error
	b := batch{
		codes: make([]string, n), ids: make([]int64, n), urls: make([]string, n),
		statuses: make([]int16, n), created: make([]time.Time, n),
		expires: make([]pgtype.Timestamptz, n), disabled: make([]bool, n), hosts: make([]pgtype.Text, n),
		wsIDs: make([]int64, n), domains: make([]string, n), smart: make([]pgtype.Text, n),
		titles: make([]pgtype.Text, n), tags: make([]string, n), notes: make([]pgtype.Text, n),
		extIDs: make([]pgtype.Text, n),
	}
	for j, i := range order {
		l := links[i]
		host := linkstore.HostOf(l.URL)
		b.codes[j], b.ids[j], b.urls[j] = l.Code, l.ID, l.URL
		b.statuses[j] = int16(l.Status) // validated: fits
		b.created[j] = l.CreatedAt
		b.expires[j] = pgtype.Timestamptz{Time: l.ExpiresAt, Valid: !l.ExpiresAt.IsZero()}
		b.disabled[j] = l.Disabled
		b.hosts[j] = pgtype.Text{String: host, Valid: host != ""}
		b.wsIDs[j], b.domains[j] = workspace.Of(l.WorkspaceID), l.Domain
		b.titles[j], b.tags[j], b.notes[j] = textOrNull(l.Title), strings.Join(storedTags(l.Tags), "\n"), textOrNull(l.Notes)
		b.extIDs[j] = textOrNull(l.ExternalID)
		if b.smart[j], err = storedSmart(l.Smart); err != nil {
			break
		}
	}

	var inserted map[linkstore.Key]bool
	if err == nil {
		inserted, err = insertMany(ctx, db, b)
	}
	if err != nil {
		return err
	}
	for _, i := range order {
		if !inserted[links[i].Key()] {
			errs[i] = linkstore.ErrCodeTaken
		}
	}
	return nil
}

// dbtx is what the writes need of the pool or of a transaction.
type dbtx interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// insertOne inserts one valid link with sqlInsertOne.
func (s *Store) insertOne(ctx context.Context, db dbtx, l linkstore.Link) error {
	args, err := insertArgs(l)
	if err != nil {
		return fmt.Errorf("pgstore: create %q: %w", l.Code, err)
	}
	tag, err := db.Exec(ctx, sqlInsertOne, args...)
	switch {
	case err != nil:
		return fmt.Errorf("pgstore: create %q: %w", l.Code, err)
	case tag.RowsAffected() == 0:
		return linkstore.ErrCodeTaken
	}
	return nil
}

// insertMany runs sqlInsertMany on db and returns the set of keys inserted.
func insertMany(ctx context.Context, db dbtx, b batch) (map[linkstore.Key]bool, error) {
	rows, err := db.Query(ctx, sqlInsertMany,
		b.codes, b.ids, b.urls, b.statuses, b.created, b.expires, b.disabled, b.hosts, b.wsIDs, b.domains, b.smart, b.titles, b.tags, b.notes, b.extIDs)
	if err != nil {
		return nil, err
	}
	return scanKeys(rows, len(b.codes))
}

// scanKeys reads rows of a code and a domain each into a set, sized for n.
func scanKeys(rows pgx.Rows, n int) (map[linkstore.Key]bool, error) {
	inserted := make(map[linkstore.Key]bool, n)
	var k linkstore.Key
	_, err := pgx.ForEachRow(rows, []any{&k.Code, &k.Domain}, func() error {
		inserted[k] = true
		return nil
	})
	return inserted, err
}

// Update applies u to the link with the code in one statement and returns
// the link as it is afterwards, or linkstore.ErrNotFound. An Update with
// no field set reads the link.
func (s *Store) Update(ctx context.Context, domain, code string, u linkstore.Update) (linkstore.Link, error) {
	if u.IsZero() {
		return s.Get(ctx, domain, code)
	}
	if err := u.Validate(); err != nil {
		return linkstore.Link{}, fmt.Errorf("pgstore: update %q: %w", code, err)
	}
	var (
		setURL  = u.URL != nil
		newURL  string
		host    pgtype.Text
		status  *int16
		setExp  = u.ExpiresAt != nil
		expires pgtype.Timestamptz
		smart   pgtype.Text
	)
	if u.Smart != nil {
		var err error
		if smart, err = storedSmart(*u.Smart); err != nil {
			return linkstore.Link{}, fmt.Errorf("pgstore: update %q: %w", code, err)
		}
	}
	if setURL {
		newURL = *u.URL
		h := linkstore.HostOf(newURL)
		host = pgtype.Text{String: h, Valid: h != ""}
	}
	if u.Status != nil {
		st := int16(*u.Status) // validated: fits
		status = &st
	}
	if setExp {
		expires = pgtype.Timestamptz{Time: *u.ExpiresAt, Valid: !u.ExpiresAt.IsZero()}
	}
	args := []any{code, setURL, newURL, host, status, setExp, expires, u.Disabled, domain, u.Smart != nil, smart,
		u.Title != nil, textOrNull(deref(u.Title)), u.Tags != nil, storedTags(deref(u.Tags)),
		u.Notes != nil, textOrNull(deref(u.Notes)), u.ExternalID != nil, textOrNull(deref(u.ExternalID))}
	var l linkstore.Link
	var err error
	if deref(u.ExternalID) != "" {
		l, err = s.updateExternalID(ctx, domain, code, *u.ExternalID, args)
	} else {
		l, err = scanLink(s.primary.QueryRow(ctx, sqlUpdate, args...), code)
	}
	switch {
	case errors.Is(err, linkstore.ErrExternalIDTaken):
		return linkstore.Link{}, err
	case errors.Is(err, pgx.ErrNoRows):
		// Taken down, or no live link: Get says which (its own errors
		// come wrapped).
		return linkstore.Link{}, linkstore.UpdateMissed(s.Get(ctx, domain, code))
	case err != nil:
		return linkstore.Link{}, fmt.Errorf("pgstore: update %q: %w", code, err)
	}
	return l, nil
}

// sqlDelete retires one live link and returns it, in the one statement:
// no read before the write, no race with an update between the two. It
// disables the link too, so that a reader that predates retirement (an
// edge of an older release during a rolling upgrade) answers 410 for it,
// never a redirect.
const sqlDelete = `UPDATE links SET retired_at = $2, retired_reason = 'deleted', disabled = true
WHERE code = $1 AND domain = $3 AND retired_at IS NULL
RETURNING ` + linkColumns

// Delete retires a live link (reason deleted) and returns it as it is
// afterwards, or returns linkstore.ErrNotFound.
func (s *Store) Delete(ctx context.Context, domain, code string) (linkstore.Link, error) {
	return changedLink(s.primary.QueryRow(ctx, sqlDelete, code, time.Now().UTC(), domain), code, "delete")
}

// changedLink scans the live link that a statement changed and returned
// (RETURNING linkColumns), or returns linkstore.ErrNotFound when it
// matched none; what names the change in an error.
func changedLink(row pgx.Row, code, what string) (linkstore.Link, error) {
	l, err := scanLink(row, code)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return linkstore.Link{}, linkstore.ErrNotFound
	case err != nil:
		return linkstore.Link{}, fmt.Errorf("pgstore: %s %q: %w", what, code, err)
	}
	return l, nil
}

// scanner holds the destinations of linkColumns (after the code, for
// listColumns) and makes a link of them.
type scanner struct {
	l                          linkstore.Link
	status                     int16
	expires, retired, takedown pgtype.Timestamptz
	retiredReason, tdReason    pgtype.Text
	smart                      []byte
	title, notes, extID        pgtype.Text
	// edge: the row has edgeColumns, not linkColumns (no title, tags or
	// notes).
	edge bool
}

// dest returns the destinations of linkColumns, preceded by the code's
// when withCode (listColumns).
func (sc *scanner) dest(withCode bool) []any {
	d := []any{&sc.l.ID, &sc.l.URL, &sc.status, &sc.l.CreatedAt, &sc.expires, &sc.l.Disabled,
		&sc.retired, &sc.retiredReason, &sc.tdReason, &sc.takedown, &sc.l.WorkspaceID, &sc.l.Domain, &sc.smart}
	if !sc.edge {
		d = append(d, &sc.title, &sc.l.Tags, &sc.notes, &sc.extID, &sc.l.Clicks, &sc.l.ClicksHumans)
	}
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
	l.Status = int(sc.status)
	l.CreatedAt = l.CreatedAt.UTC()
	l.ExpiresAt = utcOrZero(sc.expires)
	l.RetiredAt = utcOrZero(sc.retired)
	l.RetiredReason = linkstore.RetiredReason(sc.retiredReason.String)
	l.TakedownAt = utcOrZero(sc.takedown)
	l.TakedownReason = sc.tdReason.String
	l.Title, l.Notes, l.ExternalID = sc.title.String, sc.notes.String, sc.extID.String
	if len(l.Tags) == 0 {
		l.Tags = nil
	}
	return l, nil
}

func utcOrZero(t pgtype.Timestamptz) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

// scanLink scans linkColumns.
func scanLink(row pgx.Row, code string) (linkstore.Link, error) {
	return scanRow(row, code, false)
}

// scanRow scans linkColumns, or edgeColumns when edge.
func scanRow(row pgx.Row, code string, edge bool) (linkstore.Link, error) {
	sc := scanner{edge: edge}
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

// List returns up to q.Limit links matching q, newest (highest ID) first.
//
// The ID bounds are always present, with the cursor folded into the upper
// one: on each partition the (id) index, or the (reverse(host), id) index
// for a host, is read backwards from the upper bound, and the partitions'
// ordered streams are merged (Merge Append) until the limit is reached.
//
// Which index is right depends on the values: for a host or prefix that
// few links have, a range of its index and a sort; for one that many
// have, the (id) index read backwards with the filter, which finds LIMIT
// matches at once. Only a plan made for the values can choose, so List
// runs its queries as unnamed statements (pgx.QueryExecModeExec), which
// PostgreSQL always plans with the values: a prepared statement switches
// to a generic plan after five executions, and the generic plan of a host
// query filters the whole (id) index for a rare host (seconds on 2
// million rows, where the planned query takes milliseconds). Planning
// costs about a millisecond; the query has few shapes (with or without a
// prefix and a host) and always the same round trip.
//
// A workspace (q.WorkspaceID) is read through links_workspace_id_idx
// (workspace_id, id) of live links (migration 0006), in ID order like the
// (id) index, so one workspace's listing costs the same whatever the
// number of links in the others; a domain (q.Domain) filters the rows
// that the chosen index yields.
//
// A host matches exactly or as a subdomain: reverse(host) equals
// reverse(q.Host), or lies in [reverse(q.Host)+".", reverse(q.Host)+"/"),
// the reversed strings that start with reverse(q.Host)+".". The two are
// separate branches of a UNION ALL: the exact one is read in ID order and
// stops at the limit; the subdomain one is a range of the index, sorted.
func (s *Store) List(ctx context.Context, q linkstore.ListQuery) ([]linkstore.Link, error) {
	b, err := q.Bounds()
	if err != nil {
		return nil, fmt.Errorf("pgstore: list: %w", err)
	}
	if b.Empty() {
		return []linkstore.Link{}, nil
	}
	query, args := listQuery(b)
	rows, err := s.primary.Query(ctx, query, append([]any{pgx.QueryExecModeExec}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("pgstore: list: %w", err)
	}
	links, err := scanLinks(rows, min(b.Limit, 64))
	if err != nil {
		return nil, fmt.Errorf("pgstore: list: %w", err)
	}
	return links, nil
}

// scanLinks reads rows of listColumns into links, in UTC, with room for
// capacity of them to begin with; a NULL time is the zero time.
func scanLinks(rows pgx.Rows, capacity int) ([]linkstore.Link, error) {
	links := make([]linkstore.Link, 0, capacity)
	var sc scanner
	_, err := pgx.ForEachRow(rows, sc.dest(true), func() error {
		l, err := sc.link()
		if err != nil {
			return fmt.Errorf("code %q: %w", sc.l.Code, err)
		}
		links = append(links, l)
		return nil
	})
	return links, err
}

// linkColumns are the columns of a link after its code, as scanner reads
// them; listColumns the same with the code first. edgeColumns are those
// the redirect path reads (Lookup): all but the owner's title, tags,
// notes, external ID and click totals, which an edge never needs (notes hold up to 10,000 characters),
// and which an edge of this release therefore does not need from the
// schema either (it does not migrate: migration 0009 may come later).
const (
	edgeColumns = "id, url, status, created_at, expires_at, disabled, retired_at, retired_reason, takedown_reason, takedown_at, workspace_id, domain, smart"
	linkColumns = edgeColumns + ", title, tags, notes, external_id, clicks, clicks_humans"
	listColumns = "code, " + linkColumns
)

// listQuery builds the query for b and its arguments.
func listQuery(b linkstore.ListBounds) (string, []any) {
	args := []any{b.MinID, b.MaxID, b.Limit}
	param := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	where := "id BETWEEN $1 AND $2 AND retired_at IS NULL"
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
	if b.Tags != nil {
		where += " AND shortify_lower_tags(tags) @> " + param(b.Tags) + "::text[] AND tags IS NOT NULL"
	}
	if b.ExternalID != "" {
		where += " AND external_id = " + param(b.ExternalID) + " AND external_id IS NOT NULL"
	}
	if b.Query != "" {
		where += ` AND shortify_search_text(code, url, title, tags) LIKE ` + param("%"+likeEscaper.Replace(b.Query)+"%")
	}
	order := " ORDER BY id DESC LIMIT $3"
	if b.ByClicks {
		order = " ORDER BY clicks DESC, id DESC LIMIT $3"
		if b.HasAfter {
			where += " AND (clicks, id) < (" + param(b.AfterClicks) + ", " + param(b.AfterID) + ")"
		}
	}
	if b.Host == "" {
		return "SELECT " + listColumns + " FROM links WHERE " + where + order, args
	}
	r := linkstore.ReverseRunes(b.Host)
	exact := "reverse(host) = " + param(r)
	sub := "reverse(host) >= " + param(r+".") + " AND reverse(host) < " + param(r+"/")
	return "SELECT " + listColumns + " FROM (" +
		"(SELECT " + listColumns + " FROM links WHERE " + exact + " AND " + where + order + ")" +
		" UNION ALL " +
		"(SELECT " + listColumns + " FROM links WHERE " + sub + " AND " + where + order + ")" +
		") AS l" + order, args
}

// likeEscaper escapes the wildcards of LIKE (whose escape character is
// the backslash by default) in a search term.
var likeEscaper = strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`)

// deref is *p, or the zero value for nil.
func deref[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}
