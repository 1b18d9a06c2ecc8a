package api

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/shortify/shortify/internal/storedsn"
	"github.com/shortify/shortify/stats/aggregate"
)

// Store reads the aggregates that the stats ingest writes (the tables of
// stats/partitions' migrations). Code "" with link ID 0 is the
// roll-up over all links, or in a Workspace view over the workspace's.
type Store interface {
	// Buckets returns the rows of one link (or the roll-up) in [from, to),
	// in bucket order.
	Buckets(ctx context.Context, g Granularity, code string, linkID int64, from, to time.Time) ([]BucketRow, error)
	// Top returns the values of dimension with the most clicks of traffic
	// for one link (or the roll-up), at most limit.
	Top(ctx context.Context, g Granularity, code string, linkID int64, dimension string, from, to time.Time, traffic Traffic, limit int) ([]Counted, error)
	// TopLinks returns the links with the most clicks of traffic, at most
	// limit.
	TopLinks(ctx context.Context, g Granularity, from, to time.Time, traffic Traffic, limit int) ([]LinkCount, error)
	// LatestLinkID returns the highest link ID with statistics of
	// granularity g for code, 0 when there are none.
	LatestLinkID(ctx context.Context, g Granularity, code string) (int64, error)
	// HasLink reports whether link linkID of code has statistics of
	// granularity g.
	HasLink(ctx context.Context, g Granularity, code string, linkID int64) (bool, error)
	// Workspace returns a view of the store that reads only workspace
	// id's rows: its roll-up as the roll-up, its links in TopLinks, and
	// none of another workspace's links (their codes have no statistics
	// there). id 0 is the instance-wide store. The view shares the
	// store's connections; its Close does nothing. The API reads a
	// workspace's key's requests through it.
	Workspace(id int64) Store
	// Close releases the connections.
	Close() error
}

// BucketRow is one row of clicks_hourly or clicks_daily.
type BucketRow struct {
	Bucket time.Time
	Bot    bool
	Clicks int64
	// Visitors is the HyperLogLog sketch of the bucket (nil: none).
	Visitors []byte
}

// Counted is one value of a dimension with its clicks.
type Counted struct {
	Value  string
	Humans int64
	Bots   int64
}

// LinkCount is one link with its clicks.
type LinkCount struct {
	Code   string
	LinkID int64
	Humans int64
	Bots   int64
}

// sqlStore is Store on database/sql, for PostgreSQL (pgx's driver) and
// SQLite (modernc.org/sqlite). The statements are the same; the dialect
// differs in placeholders and in how times are kept.
type sqlStore struct {
	db     *sql.DB
	sqlite bool
	// ws is the workspace of a view (Workspace), 0 for the instance.
	ws   int64
	view bool
}

// Workspace implements Store.
func (s *sqlStore) Workspace(id int64) Store {
	return &sqlStore{db: s.db, sqlite: s.sqlite, ws: id, view: true}
}

// scope is the condition that keeps the rows of s's workspace, its
// workspace_id the parameter $n, and the arguments to append. The
// instance-wide store reads every link and the roll-up over all links
// (workspace_id 0), never a workspace's roll-up.
func (s *sqlStore) scope(n int) (string, []any) {
	if s.ws == 0 {
		return "(code <> '' OR workspace_id = 0)", nil
	}
	return "workspace_id = $" + strconv.Itoa(n), []any{s.ws}
}

// Open connects to the stats database that dsn names: postgres://…,
// postgresql://… or sqlite://PATH. The connection is read-only (a
// read-only default transaction on PostgreSQL, query_only on SQLite): the
// stats API never writes.
func Open(ctx context.Context, dsn string) (Store, error) {
	d, err := storedsn.Parse(dsn)
	if err != nil {
		return nil, fmt.Errorf("stats api: the stats database: %w", err)
	}
	var s sqlStore
	switch d.Dialect {
	case storedsn.Postgres:
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			return nil, fmt.Errorf("stats api: parse the stats database DSN: %w", err)
		}
		cfg.RuntimeParams["default_transaction_read_only"] = "on"
		cfg.RuntimeParams["application_name"] = "shortify-stats-api"
		s.db = stdlib.OpenDB(*cfg)
		s.db.SetMaxOpenConns(8)
		s.db.SetMaxIdleConns(4)
		s.db.SetConnMaxIdleTime(5 * time.Minute)
	default:
		q := url.Values{"_pragma": {"busy_timeout(10000)", "query_only(1)"}}
		if s.db, err = sql.Open("sqlite", d.Path+"?"+q.Encode()); err != nil {
			return nil, fmt.Errorf("stats api: open %s: %w", d.Path, err)
		}
		s.db.SetMaxOpenConns(4)
		s.sqlite = true
	}
	if err := s.db.PingContext(ctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("stats api: connect to the stats database: %w", err)
	}
	return &s, nil
}

// Close implements Store.
func (s *sqlStore) Close() error {
	if s.view {
		return nil
	}
	return s.db.Close()
}

var placeholder = regexp.MustCompile(`\$([0-9]+)`)

// query runs stmt, written with PostgreSQL's $n placeholders and times as
// time.Time, on either database.
func (s *sqlStore) query(ctx context.Context, stmt string, args ...any) (*sql.Rows, error) {
	if s.sqlite {
		stmt = placeholder.ReplaceAllString(stmt, "?$1")
		for i, a := range args {
			if t, ok := a.(time.Time); ok {
				args[i] = t.UnixMicro()
			}
		}
	}
	return s.db.QueryContext(ctx, stmt, args...)
}

// table names the table of a granularity (constants, never user input).
func table(g Granularity, dims bool) string {
	t := "clicks_daily"
	if g == Hour {
		t = "clicks_hourly"
	}
	if dims {
		t += "_dims"
	}
	return t
}

// Human and bot sums, written so that both databases take them (bot is a
// boolean on PostgreSQL and 0 or 1 on SQLite).
const (
	sumHumans = "CAST(SUM(CASE WHEN bot THEN 0 ELSE clicks END) AS bigint)"
	sumBots   = "CAST(SUM(CASE WHEN bot THEN clicks ELSE 0 END) AS bigint)"
)

// rankBy is the ORDER BY expression of a ranking by traffic.
func rankBy(t Traffic) string {
	switch t {
	case HumanTraffic:
		return sumHumans
	case BotTraffic:
		return sumBots
	}
	return "CAST(SUM(clicks) AS bigint)"
}

// Buckets implements Store.
func (s *sqlStore) Buckets(ctx context.Context, g Granularity, code string, linkID int64, from, to time.Time) ([]BucketRow, error) {
	scope, args := s.scope(5)
	rows, err := s.query(ctx, `SELECT bucket, CASE WHEN bot THEN 1 ELSE 0 END, clicks, visitors FROM `+table(g, false)+`
		WHERE code = $1 AND link_id = $2 AND bucket >= $3 AND bucket < $4 AND `+scope+`
		ORDER BY bucket, bot`, append([]any{code, linkID, from, to}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("stats api: read %s: %w", table(g, false), err)
	}
	defer rows.Close()
	var out []BucketRow
	for rows.Next() {
		var r BucketRow
		var bot int
		if err := rows.Scan(timeScanner{&r.Bucket}, &bot, &r.Clicks, &r.Visitors); err != nil {
			return nil, fmt.Errorf("stats api: read %s: %w", table(g, false), err)
		}
		r.Bot = bot == 1
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("stats api: read %s: %w", table(g, false), err)
	}
	return out, nil
}

// Top implements Store. The counts are in each bucket row's dims column
// (an encoded aggregate.DimCounts, added up here) and, for rows written
// before that column existed, in the *_dims tables (added up in SQL). Ties
// rank by value, bytewise.
func (s *sqlStore) Top(ctx context.Context, g Granularity, code string, linkID int64, dimension string, from, to time.Time, traffic Traffic, limit int) ([]Counted, error) {
	dim, ok := dimensionOf(dimension)
	if !ok {
		return nil, fmt.Errorf("stats api: unknown dimension %q", dimension)
	}
	sums := map[string]*Counted{}
	add := func(value string, bot bool, n int64) {
		c := sums[value]
		if c == nil {
			c = &Counted{Value: value}
			sums[value] = c
		}
		if bot {
			c.Bots += n
		} else {
			c.Humans += n
		}
	}
	t := table(g, false)
	scope, args := s.scope(5)
	rows, err := s.query(ctx, `SELECT CASE WHEN bot THEN 1 ELSE 0 END, dims FROM `+t+`
		WHERE code = $1 AND link_id = $2 AND bucket >= $3 AND bucket < $4 AND dims IS NOT NULL AND `+scope,
		append([]any{code, linkID, from, to}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("stats api: read %s: %w", t, err)
	}
	defer rows.Close()
	var bot int
	var dims []byte
	for rows.Next() {
		if err := rows.Scan(&bot, &dims); err != nil {
			return nil, fmt.Errorf("stats api: read %s: %w", t, err)
		}
		err := aggregate.EachValue(dims, dim, func(v []byte, n int64) {
			if c := sums[string(v)]; c != nil { // no string allocated for a value seen before
				if bot == 1 {
					c.Bots += n
				} else {
					c.Humans += n
				}
				return
			}
			add(string(v), bot == 1, n)
		})
		if err != nil {
			return nil, fmt.Errorf("stats api: read %s: %w", t, err)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("stats api: read %s: %w", t, err)
	}
	legacy, err := s.legacyTop(ctx, g, code, linkID, dimension, from, to)
	if err != nil {
		return nil, err
	}
	for _, c := range legacy {
		add(c.Value, false, c.Humans)
		add(c.Value, true, c.Bots)
	}
	out := []Counted{}
	for _, c := range sums {
		if rankOf(c, traffic) > 0 {
			out = append(out, *c)
		}
	}
	slices.SortFunc(out, func(a, b Counted) int {
		return cmp.Or(cmp.Compare(rankOf(&b, traffic), rankOf(&a, traffic)), strings.Compare(a.Value, b.Value))
	})
	return out[:min(len(out), max(limit, 0))], nil
}

// rankOf is what a value ranks by for traffic t.
func rankOf(c *Counted, t Traffic) int64 {
	switch t {
	case HumanTraffic:
		return c.Humans
	case BotTraffic:
		return c.Bots
	}
	return c.Humans + c.Bots
}

// dimensionOf finds the aggregate dimension named name.
func dimensionOf(name string) (aggregate.Dimension, bool) {
	for _, d := range aggregate.Dimensions {
		if d.String() == name {
			return d, true
		}
	}
	return 0, false
}

// legacyTop sums the *_dims rows of one link (or the roll-up) by value.
func (s *sqlStore) legacyTop(ctx context.Context, g Granularity, code string, linkID int64, dimension string, from, to time.Time) ([]Counted, error) {
	t := table(g, true)
	scope, args := s.scope(6)
	rows, err := s.query(ctx, `SELECT value, `+sumHumans+`, `+sumBots+` FROM `+t+`
		WHERE code = $1 AND link_id = $2 AND dimension = $3 AND bucket >= $4 AND bucket < $5 AND `+scope+`
		GROUP BY value`, append([]any{code, linkID, dimension, from, to}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("stats api: read %s: %w", t, err)
	}
	defer rows.Close()
	var out []Counted
	for rows.Next() {
		var c Counted
		if err := rows.Scan(&c.Value, &c.Humans, &c.Bots); err != nil {
			return nil, fmt.Errorf("stats api: read %s: %w", t, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("stats api: read %s: %w", t, err)
	}
	return out, nil
}

// TopLinks implements Store.
func (s *sqlStore) TopLinks(ctx context.Context, g Granularity, from, to time.Time, traffic Traffic, limit int) ([]LinkCount, error) {
	t := table(g, false)
	// A workspace's links are read through the (workspace_id, bucket)
	// index, not from every link's rows.
	stmt, args := s.topLinks(t, traffic)
	rows, err := s.query(ctx, stmt, append([]any{from, to, limit}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("stats api: read %s: %w", t, err)
	}
	defer rows.Close()
	out := []LinkCount{}
	for rows.Next() {
		var c LinkCount
		if err := rows.Scan(&c.Code, &c.LinkID, &c.Humans, &c.Bots); err != nil {
			return nil, fmt.Errorf("stats api: read %s: %w", t, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("stats api: read %s: %w", t, err)
	}
	return out, nil
}

// topLinks is TopLinks' statement on table t: parameters from, to,
// limit, then args (the scope's).
func (s *sqlStore) topLinks(t string, traffic Traffic) (stmt string, args []any) {
	scope, args := s.scope(4)
	return `SELECT code, link_id, ` + sumHumans + `, ` + sumBots + ` FROM ` + t + `
		WHERE code <> '' AND bucket >= $1 AND bucket < $2 AND ` + scope + `
		GROUP BY code, link_id
		HAVING ` + rankBy(traffic) + ` > 0
		ORDER BY ` + rankBy(traffic) + ` DESC, code, link_id
		LIMIT $3`, args
}

// LatestLinkID implements Store. It reads the table the series will come
// from, so that the link it finds is one that series has.
func (s *sqlStore) LatestLinkID(ctx context.Context, g Granularity, code string) (int64, error) {
	scope, args := s.scope(2)
	rows, err := s.query(ctx, `SELECT COALESCE(MAX(link_id), 0) FROM `+table(g, false)+` WHERE code = $1 AND `+scope,
		append([]any{code}, args...)...)
	if err != nil {
		return 0, fmt.Errorf("stats api: latest link of %q: %w", code, err)
	}
	defer rows.Close()
	var id int64
	if rows.Next() {
		if err := rows.Scan(&id); err != nil {
			return 0, fmt.Errorf("stats api: latest link of %q: %w", code, err)
		}
	}
	return id, rows.Err()
}

// HasLink implements Store.
func (s *sqlStore) HasLink(ctx context.Context, g Granularity, code string, linkID int64) (bool, error) {
	scope, args := s.scope(3)
	rows, err := s.query(ctx, `SELECT 1 FROM `+table(g, false)+` WHERE code = $1 AND link_id = $2 AND `+scope+` LIMIT 1`,
		append([]any{code, linkID}, args...)...)
	if err != nil {
		return false, fmt.Errorf("stats api: link %d of %q: %w", linkID, code, err)
	}
	defer rows.Close()
	found := rows.Next()
	if err := rows.Err(); err != nil {
		return false, fmt.Errorf("stats api: link %d of %q: %w", linkID, code, err)
	}
	return found, nil
}

// timeScanner reads a bucket: timestamptz on PostgreSQL, Unix
// microseconds on SQLite.
type timeScanner struct{ t *time.Time }

// Scan implements sql.Scanner.
func (s timeScanner) Scan(src any) error {
	switch v := src.(type) {
	case time.Time:
		*s.t = v.UTC()
	case int64:
		*s.t = time.UnixMicro(v).UTC()
	default:
		return fmt.Errorf("stats api: a bucket of type %T", src)
	}
	return nil
}
