// Package seqfloor measures what a link database holds that a control-plane
// backup may not know of, so that a cluster restored from a backup older
// than its database (fsm.State.RaiseFloors, fsm.State.Revoke) never issues
// a code or an ID twice and accepts no key revoked after the backup.
//
// Every number is exact. IDs: the largest id in the links table (an index
// reads it). Codes: the Ledger's sequence mark, the highest number of any
// block a node fetched, written before the node hands out a code of the
// block (one write per block), so the restore reads one row. Revocations:
// the Ledger's list of revoked keys, written before a revocation goes
// through Raft.
//
// A database without a mark (written by a release before it, or restored
// from a dump of one) falls back to a scan: the codes of links whose ID is
// not older than the backup (less Slack), read through links_id_idx,
// decoded, and kept from the backup's NextSequence upwards while each lies
// within MaxGap of the last one kept (Frontier). That scan cannot tell an
// alias from a generated code; docs/decisions/0006-backup-restore.md gives
// its bound.
package seqfloor

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/shortify/shortify/controlplane/fsm"
	"github.com/shortify/shortify/internal/codegen"
	"github.com/shortify/shortify/internal/snowflake"
)

// MaxGap is the largest distance between two generated sequence numbers
// that the fallback scan bridges: 64 blocks of the largest size, used not
// at all.
const MaxGap = 64 * fsm.MaxBlockSize

// Slack is how much older than the backup a link may be and still have a
// code the backup does not cover (fallback scan): the clocks of the nodes
// that create links may lag the leader's that took the backup.
const Slack = time.Hour

// Floor is what Measure found.
type Floor struct {
	// Seq is the first sequence number past the mark (or, without one,
	// past every generated code the scan found), at least the backup's
	// NextSequence.
	Seq uint64
	// Marked says the database holds a sequence mark; Mark is its value,
	// the highest number of any block a node fetched.
	Marked bool
	Mark   uint64
	// IDMs is the timestamp of the largest link ID, in milliseconds since
	// the Snowflake epoch (-1 when the table is empty).
	IDMs int64
	// Scanned counts the links whose codes the fallback scan read (those
	// not older than the backup, less Slack; 0 with a mark); Decoded those
	// whose code decodes to a number at or past the backup's
	// NextSequence; Kept those Seq covers.
	Scanned, Decoded, Kept int
}

// Measure reads the link database: the largest link ID and, for the
// codes, the sequence mark, or without one the fallback scan of the codes
// of the links created since takenAt less Slack, decoded with codec, from
// next (the backup's NextSequence) on.
func (l *Ledger) Measure(ctx context.Context, codec *codegen.Codec, next uint64, takenAt time.Time) (Floor, error) {
	f := Floor{Seq: next, IDMs: -1}
	var maxID sql.NullInt64
	if err := l.db.QueryRowContext(ctx, `SELECT max(id) FROM links`).Scan(&maxID); err != nil {
		return f, fmt.Errorf("seqfloor: largest link ID: %w", err)
	}
	if maxID.Valid && maxID.Int64 > 0 {
		f.IDMs = maxID.Int64 >> (snowflake.WorkerBits + snowflake.SequenceBits)
	}
	high, ok, err := l.Mark(ctx)
	if err != nil {
		return f, err
	}
	if ok {
		f.Marked, f.Mark = true, high
		f.Seq = max(next, high+1)
		return f, nil
	}
	return f, l.scan(ctx, &f, codec, takenAt)
}

// ScanQuery is the fallback scan's query: the codes of the links whose ID
// is at least $1, a range of links_id_idx.
const ScanQuery = `SELECT code FROM links WHERE id >= $1`

// scan is the fallback of a database without a mark.
func (l *Ledger) scan(ctx context.Context, f *Floor, codec *codegen.Codec, takenAt time.Time) error {
	next := f.Seq
	// $1 is an integer, the same on both dialects.
	rows, err := l.db.QueryContext(ctx, ScanQuery, snowflake.IDAt(takenAt.Add(-Slack)))
	if err != nil {
		return fmt.Errorf("seqfloor: read codes: %w", err)
	}
	defer rows.Close()
	var seqs []uint64
	for rows.Next() {
		var code string
		if err := rows.Scan(&code); err != nil {
			return fmt.Errorf("seqfloor: read codes: %w", err)
		}
		f.Scanned++
		// Anything that is not 6 to 10 Base62 characters is an alias.
		if s, err := codec.Seq(code); err == nil && s >= next {
			seqs = append(seqs, s)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("seqfloor: read codes: %w", err)
	}
	f.Decoded = len(seqs)
	f.Seq, f.Kept = Frontier(next, seqs)
	return nil
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
