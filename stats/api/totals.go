package api

// This file reads links' all-time click totals for the control plane's
// click-totals job (controlplane/clicktotals), which copies them onto the
// links in the link database, so that the link listing shows and sorts by
// them.

import (
	"context"
	"fmt"
	"time"
)

// TotalsReader reads links' click totals from the stats database.
type TotalsReader interface {
	// RecentBuckets calls fn with the clicks (humans and bots) of every
	// link's hourly bucket at or after since, summed over bot and human
	// rows: what changed since a previous pass shows as a bucket whose
	// clicks moved. It reads the workspaces' roll-up rows of those buckets
	// first, and then each such workspace's links through the
	// (workspace_id, bucket) index, so that its cost follows the recent
	// buckets, not the table.
	RecentBuckets(ctx context.Context, since time.Time, fn func(LinkBucket) error) error
	// LinkTotals returns the all-time totals of the links named (by code
	// and link ID), summed over the daily table; a link without rows is
	// left out.
	LinkTotals(ctx context.Context, links []StatsLink) ([]LinkTotal, error)
	// AllLinkTotals calls fn with the all-time totals of every link with
	// statistics, in no particular order: a full pass, which reads the
	// whole daily table.
	AllLinkTotals(ctx context.Context, fn func(LinkTotal) error) error
	// Close releases the connections.
	Close() error
}

// StatsLink names a link in the stats database: its code and Snowflake
// ID (the stats rows know no domain).
type StatsLink struct {
	Code   string
	LinkID int64
}

// LinkBucket is one link's clicks in one hourly bucket.
type LinkBucket struct {
	StatsLink
	Bucket time.Time
	Clicks int64
}

// LinkTotal is one link's all-time clicks: Clicks of humans and bots,
// Humans of humans alone.
type LinkTotal struct {
	StatsLink
	Clicks, Humans int64
}

// OpenTotals connects to the stats database that dsn names, read-only, as
// Open does, for a TotalsReader.
func OpenTotals(ctx context.Context, dsn string) (TotalsReader, error) {
	s, err := Open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	return s.(*sqlStore), nil
}

// sqlRecentBuckets reads the recent hourly rows of the links of the
// workspaces that have a roll-up row in those buckets.
const sqlRecentBuckets = `SELECT code, link_id, bucket, CAST(SUM(clicks) AS bigint) FROM clicks_hourly
WHERE code <> '' AND bucket >= $1 AND workspace_id IN (
	SELECT DISTINCT workspace_id FROM clicks_hourly WHERE code = '' AND bucket >= $1 AND workspace_id > 0)
GROUP BY code, link_id, bucket`

// RecentBuckets implements TotalsReader.
func (s *sqlStore) RecentBuckets(ctx context.Context, since time.Time, fn func(LinkBucket) error) error {
	rows, err := s.query(ctx, sqlRecentBuckets, since.UTC())
	if err != nil {
		return fmt.Errorf("stats api: recent buckets: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var b LinkBucket
		var bucket any
		if err := rows.Scan(&b.Code, &b.LinkID, &bucket, &b.Clicks); err != nil {
			return fmt.Errorf("stats api: recent buckets: %w", err)
		}
		if b.Bucket, err = s.timeOf(bucket); err != nil {
			return fmt.Errorf("stats api: recent buckets: %w", err)
		}
		if err := fn(b); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("stats api: recent buckets: %w", err)
	}
	return nil
}

// timeOf reads a bucket as the dialect keeps it: a time on PostgreSQL,
// Unix microseconds on SQLite.
func (s *sqlStore) timeOf(v any) (time.Time, error) {
	switch t := v.(type) {
	case time.Time:
		return t.UTC(), nil
	case int64:
		return time.UnixMicro(t).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("a bucket of type %T", v)
}

// sqlTotalsOf sums the daily rows of links given as two arrays
// (PostgreSQL), one primary-key range per link and partition.
const sqlTotalsOf = `SELECT t.code, t.link_id, CAST(SUM(d.clicks) AS bigint), CAST(SUM(CASE WHEN d.bot THEN 0 ELSE d.clicks END) AS bigint)
FROM unnest($1::text[], $2::bigint[]) AS t (code, link_id)
JOIN clicks_daily AS d ON d.code = t.code AND d.link_id = t.link_id
GROUP BY t.code, t.link_id`

// sqlTotalOf sums one link's daily rows (SQLite, row by row).
const sqlTotalOf = `SELECT CAST(SUM(clicks) AS bigint), CAST(SUM(CASE WHEN bot THEN 0 ELSE clicks END) AS bigint)
FROM clicks_daily WHERE code = $1 AND link_id = $2`

// LinkTotals implements TotalsReader.
func (s *sqlStore) LinkTotals(ctx context.Context, links []StatsLink) ([]LinkTotal, error) {
	if len(links) == 0 {
		return nil, nil
	}
	out := make([]LinkTotal, 0, len(links))
	if s.sqlite {
		for _, l := range links {
			var clicks, humans *int64
			rows, err := s.query(ctx, sqlTotalOf, l.Code, l.LinkID)
			if err != nil {
				return nil, fmt.Errorf("stats api: link totals: %w", err)
			}
			for rows.Next() {
				err = rows.Scan(&clicks, &humans)
			}
			rows.Close()
			if err == nil {
				err = rows.Err()
			}
			if err != nil {
				return nil, fmt.Errorf("stats api: link totals: %w", err)
			}
			if clicks != nil && humans != nil {
				out = append(out, LinkTotal{StatsLink: l, Clicks: *clicks, Humans: *humans})
			}
		}
		return out, nil
	}
	codes, ids := make([]string, len(links)), make([]int64, len(links))
	for i, l := range links {
		codes[i], ids[i] = l.Code, l.LinkID
	}
	return out, s.scanTotals(ctx, func(t LinkTotal) error {
		out = append(out, t)
		return nil
	}, sqlTotalsOf, codes, ids)
}

// sqlAllTotals sums every link's daily rows.
const sqlAllTotals = `SELECT code, link_id, CAST(SUM(clicks) AS bigint), CAST(SUM(CASE WHEN bot THEN 0 ELSE clicks END) AS bigint)
FROM clicks_daily WHERE code <> '' GROUP BY code, link_id`

// AllLinkTotals implements TotalsReader.
func (s *sqlStore) AllLinkTotals(ctx context.Context, fn func(LinkTotal) error) error {
	return s.scanTotals(ctx, fn, sqlAllTotals)
}

// scanTotals runs a query of (code, link_id, clicks, humans) rows and
// calls fn with each.
func (s *sqlStore) scanTotals(ctx context.Context, fn func(LinkTotal) error, query string, args ...any) error {
	rows, err := s.query(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("stats api: link totals: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var t LinkTotal
		if err := rows.Scan(&t.Code, &t.LinkID, &t.Clicks, &t.Humans); err != nil {
			return fmt.Errorf("stats api: link totals: %w", err)
		}
		if err := fn(t); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("stats api: link totals: %w", err)
	}
	return nil
}
