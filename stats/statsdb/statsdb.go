// Package statsdb is the stats service's write path: it stores a batch of
// aggregated clicks, the link deletions of the batch and the consumed
// offsets in one transaction, on PostgreSQL (pgx) or SQLite (the embedded
// default), and reads the offsets back when a consumer is assigned
// partitions.
//
// # Exactly once
//
// The offsets live in the stats database (table stats_offsets), written in
// the transaction that writes the aggregates of the records before them, so
// a batch is either counted and its offsets advanced, or neither. Each
// offset update is conditional on the value the consumer read when it
// was assigned the partition (or wrote with its previous batch): a consumer
// that lost its partitions without noticing (a zombie after a session
// timeout) and tries to write a batch that the partition's new owner has
// already counted finds a different value, and its whole transaction rolls
// back with ErrFenced. On PostgreSQL the offset rows are updated first in
// the transaction, so two writers of one partition serialise on the row
// lock and the second one sees the first one's value.
//
// # Aggregates, sketches and dimensions
//
// A row of clicks_hourly or clicks_daily holds a bucket's clicks of one
// link (or the roll-up) and human or bot traffic, the visitors' sketch and
// the clicks per value of every dimension (the dims column, an encoded
// aggregate.DimCounts). Neither the sketch nor the dimension map can be
// merged in SQL, so Write reads the stored rows the batch touches, under
// row locks, merges them in Go and writes each row once (PostgreSQL:
// writeRows, two pipelined round trips; the roll-up rows (over all links
// and over each workspace's), shared by every consumer, are created first and all rows locked in key order, so the
// consumers never deadlock). A batch therefore writes one row per
// link-bucket it touches, however many events and dimension values are
// behind it. The *_dims tables of earlier versions are no longer written;
// the stats API still adds up what they hold.
//
// SQLite has one writer at a time, so there it reads, merges and upserts
// row by row with prepared statements in one IMMEDIATE transaction.
//
// # Link deletions
//
// A deleted link's rows (hourly, daily, their dimensions and raw clicks)
// are deleted in the same transaction, unless KeepDeleted. The ingest only
// hands over the deletions whose owner asked for the statistics to go
// (DELETE ...?purge_stats=true): an expired link's statistics, and by
// default a deleted one's, stay. The roll-ups
// keep its clicks: it counts what the edge served, and a sketch cannot
// forget visitors.
package statsdb

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/shortify/shortify/internal/clickevents"
	"github.com/shortify/shortify/internal/storedsn"
	"github.com/shortify/shortify/stats/aggregate"
)

// ErrFenced means another consumer has moved a partition's offset since
// this one read it: the batch was not written, and the consumer must read
// its offsets again (LoadOffsets) before it consumes further.
var ErrFenced = errors.New("statsdb: partition offset moved by another consumer")

// NoOffset is Offset.Expected for a partition without a stored offset.
const NoOffset int64 = -1

// Offset is the consumed position of one topic partition after a batch.
type Offset struct {
	Topic     string
	Partition int32
	// Expected is the stored next offset the batch starts from, as the
	// consumer last read or wrote it, or NoOffset if none was stored.
	Expected int64
	// Next is the offset of the batch's last record of the partition plus
	// one: where to resume.
	Next int64
}

// Deletion is a deleted link whose statistics are to be removed.
type Deletion struct {
	Code string
	// LinkID is the deleted link's ID; 0 when the event did not carry it:
	// then the links of Code created before At are meant.
	LinkID int64
	At     time.Time
}

// Batch is what one transaction writes.
type Batch struct {
	// Group is the consumer group whose offsets these are.
	Group   string
	Offsets []Offset
	// Rows are the aggregate rows, each with its dimension counts.
	Rows []aggregate.Row
	// Clicks are raw click rows, written only when Config.RawClicks.
	Clicks    []clickevents.Event
	Deletions []Deletion
}

// Config configures a DB.
type Config struct {
	// DSN names the stats database: postgres://…, postgresql://… or
	// sqlite://PATH (sqlite:PATH).
	DSN string
	// Migrate brings the stats schema (its owner is package
	// stats/partitions: the tables and stats_offsets) up to date, so that
	// stats can start before the control plane.
	Migrate bool
	// RawClicks keeps a row per click in the clicks table (off by
	// default: the aggregates do not need them).
	RawClicks bool
	// KeepDeleted keeps a deleted link's statistics even when its owner
	// asked for them to be purged.
	KeepDeleted bool
	// MaxConns bounds the PostgreSQL pool (default 4).
	MaxConns int32
	// Logger receives what the write path does not return (nil:
	// slog.Default()).
	Logger *slog.Logger
}

// backend is one database's implementation.
type backend interface {
	loadOffsets(ctx context.Context, group, topic string, partitions []int32) (map[int32]int64, error)
	write(ctx context.Context, b *Batch) error
	close()
}

// DB writes batches to the stats database.
type DB struct {
	cfg Config
	be  backend
}

// Open connects to the stats database and, when cfg.Migrate, brings its
// schema up to date.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	cfg.MaxConns = cmp.Or(cfg.MaxConns, 4)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	db := &DB{cfg: cfg}
	d, err := storedsn.Parse(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("statsdb: %w", err)
	}
	if d.Dialect == storedsn.Postgres {
		db.be, err = openPostgres(ctx, cfg)
	} else {
		db.be, err = openSQLite(ctx, cfg, d.Path)
	}
	if err != nil {
		return nil, err
	}
	return db, nil
}

// RawClicks reports whether Write keeps raw click rows, so that callers
// collect them only then.
func (db *DB) RawClicks() bool { return db.cfg.RawClicks }

// Close closes the database connections.
func (db *DB) Close() { db.be.close() }

// LoadOffsets returns the stored next offsets of the group's partitions of
// topic; a partition without one is missing from the map.
func (db *DB) LoadOffsets(ctx context.Context, group, topic string, partitions []int32) (map[int32]int64, error) {
	m, err := db.be.loadOffsets(ctx, group, topic, partitions)
	if err != nil {
		return nil, fmt.Errorf("statsdb: load offsets of %s: %w", topic, err)
	}
	return m, nil
}

// Write stores the batch in one transaction: aggregates, raw clicks when
// configured, deletions, offsets. It returns ErrFenced (wrapped) when an
// offset is not the one expected; nothing is written then.
func (db *DB) Write(ctx context.Context, b *Batch) error {
	if !db.cfg.RawClicks {
		b.Clicks = nil
	}
	if db.cfg.KeepDeleted {
		b.Deletions = nil
	}
	if err := db.be.write(ctx, b); err != nil {
		return fmt.Errorf("statsdb: write batch: %w", err)
	}
	return nil
}

// sqliteMicros is a time in the SQLite tables' unit.
func sqliteMicros(unixSeconds int64) int64 { return unixSeconds * 1_000_000 }

// tableOf names the aggregate table of a grain and its legacy *_dims
// table.
func tableOf(g aggregate.Grain) (totals, dims string) {
	if g == aggregate.Day {
		return "clicks_daily", "clicks_daily_dims"
	}
	return "clicks_hourly", "clicks_hourly_dims"
}
