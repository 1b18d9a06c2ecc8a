// Package seqfloor measures what a link database holds that a control-plane
// backup may not know of: the highest sequence number whose generated code
// a link carries, and the highest Snowflake ID. A cluster restored from a
// backup older than its database moves its sequence and its worker IDs'
// timestamps past both (fsm.State.RaiseFloors) before it issues anything,
// so that it never issues a code or an ID twice.
//
// An ID is exact: the largest id in the links table. A code is not: the
// table does not say whether a code was generated or is a custom alias,
// and an alias of 6 to 10 Base62 characters decodes to some sequence number
// too (codegen.Codec.Seq), usually one far beyond the sequence. So Measure
// decodes only the codes of links whose ID is not older than the backup
// (less Slack) — a generated code the backup does not cover comes from a
// block allocated after the backup was taken, so its link is younger — and
// keeps, walking up from the backup's NextSequence, every decoded number
// within MaxGap of the last one kept. Generated numbers lie close together
// (blocks are handed out one after the other; only the unused rest of a
// block, at most fsm.MaxBlockSize, separates them), while an alias lands
// at random in a tier of at least 62^6 numbers. An alias that happens to
// land within reach only moves the sequence further than needed, which
// wastes numbers but never repeats one. docs/decisions/0006-backup-restore.md
// gives the reasoning and the bound.
package seqfloor

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/shortify/shortify/controlplane/fsm"
	"github.com/shortify/shortify/internal/codegen"
	"github.com/shortify/shortify/internal/migrations"
	"github.com/shortify/shortify/internal/snowflake"
	"github.com/shortify/shortify/internal/storedsn"
)

// MaxGap is the largest distance between two generated sequence numbers
// that Measure bridges: 64 blocks of the largest size, used not at all.
const MaxGap = 64 * fsm.MaxBlockSize

// Slack is how much older than the backup a link may be and still have a
// code the backup does not cover: the clocks of the nodes that create links
// may lag the leader's that took the backup.
const Slack = time.Hour

// Floor is what Measure found.
type Floor struct {
	// Seq is the first sequence number not used by any generated code
	// found, at least the backup's NextSequence.
	Seq uint64
	// IDMs is the timestamp of the largest link ID, in milliseconds since
	// the Snowflake epoch (-1 when the table is empty).
	IDMs int64
	// Scanned counts the links whose codes were read (those not older than
	// the backup, less Slack); Decoded those whose code decodes to a
	// number at or past the backup's NextSequence; Kept those Seq covers.
	Scanned, Decoded, Kept int
}

// Measure reads the link database dsn (postgres://… or sqlite://PATH):
// the largest link ID, and the codes of the links created since takenAt
// less Slack, decoded with codec, from next (the backup's NextSequence)
// on.
func Measure(ctx context.Context, dsn string, codec *codegen.Codec, next uint64, takenAt time.Time) (Floor, error) {
	d, err := storedsn.Parse(dsn)
	if err != nil {
		return Floor{}, fmt.Errorf("seqfloor: %w", err)
	}
	var db *sql.DB
	switch d.Dialect {
	case storedsn.Postgres:
		cfg, err := pgx.ParseConfig(d.URL)
		if err != nil {
			return Floor{}, fmt.Errorf("seqfloor: %w", err)
		}
		db = stdlib.OpenDB(*cfg)
	case storedsn.SQLite:
		if db, err = migrations.OpenSQLite(d.Path); err != nil {
			return Floor{}, fmt.Errorf("seqfloor: open %s: %w", d.Path, err)
		}
	default:
		return Floor{}, errors.New("seqfloor: unsupported DSN")
	}
	defer db.Close()
	return measure(ctx, db, codec, next, takenAt)
}

func measure(ctx context.Context, db *sql.DB, codec *codegen.Codec, next uint64, takenAt time.Time) (Floor, error) {
	f := Floor{Seq: next, IDMs: -1}
	var maxID sql.NullInt64
	if err := db.QueryRowContext(ctx, `SELECT max(id) FROM links`).Scan(&maxID); err != nil {
		return f, fmt.Errorf("seqfloor: largest link ID: %w", err)
	}
	if maxID.Valid && maxID.Int64 > 0 {
		f.IDMs = maxID.Int64 >> (snowflake.WorkerBits + snowflake.SequenceBits)
	}
	// $1 is an integer, the same on both dialects.
	rows, err := db.QueryContext(ctx, `SELECT code FROM links WHERE id >= $1`, snowflake.IDAt(takenAt.Add(-Slack)))
	if err != nil {
		return f, fmt.Errorf("seqfloor: read codes: %w", err)
	}
	defer rows.Close()
	var seqs []uint64
	for rows.Next() {
		var code string
		if err := rows.Scan(&code); err != nil {
			return f, fmt.Errorf("seqfloor: read codes: %w", err)
		}
		f.Scanned++
		// Anything that is not 6 to 10 Base62 characters is an alias.
		if s, err := codec.Seq(code); err == nil && s >= next {
			seqs = append(seqs, s)
		}
	}
	if err := rows.Err(); err != nil {
		return f, fmt.Errorf("seqfloor: read codes: %w", err)
	}
	f.Decoded = len(seqs)
	f.Seq, f.Kept = Frontier(next, seqs)
	return f, nil
}

// Frontier returns the first number past those of seqs (all at least next)
// that lie within MaxGap of next or of another number kept, and how many
// it kept. seqs is sorted in place.
func Frontier(next uint64, seqs []uint64) (uint64, int) {
	slices.Sort(seqs)
	kept := 0
	for _, s := range seqs {
		if s < next {
			continue
		}
		if s-next > MaxGap {
			break
		}
		next = s + 1
		kept++
	}
	return next, kept
}
