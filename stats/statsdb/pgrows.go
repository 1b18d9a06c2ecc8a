package statsdb

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/shortify/shortify/stats/aggregate"
	"github.com/shortify/shortify/stats/hll"
)

// pgSetup makes the transaction's settings, in one statement so that it
// can be pipelined with the rest:
//
//   - an asynchronous commit is safe here: a database crash can lose only
//     whole recent transactions, offsets and aggregates together, and the
//     consumers then read the older offsets and count those batches again;
//     it saves a WAL flush wait per batch;
//   - no hash or merge joins: the batch's keys are probed one by one
//     through the primary key (the planner, with no statistics about the
//     parameter arrays, could otherwise scan a month's partition).
const pgSetup = `SELECT set_config('synchronous_commit', 'off', true),
	set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true)`

// pgKeyArrays are the keys of rows as parameter arrays.
type pgKeyArrays struct {
	codes      []string
	buckets    []time.Time
	links      []int64
	bots       []bool
	workspaces []int64
}

func (a *pgKeyArrays) add(r *aggregate.Row) {
	a.codes = append(a.codes, r.Code)
	a.buckets = append(a.buckets, r.Time())
	a.links = append(a.links, r.LinkID)
	a.bots = append(a.bots, r.Bot)
	a.workspaces = append(a.workspaces, r.Workspace)
}

// pgValues are the rows to write, as parameter arrays.
type pgValues struct {
	pgKeyArrays
	clicks         []int64
	visitors, dims [][]byte
}

// newPgKeyArrays returns pgKeyArrays with room for n rows.
func newPgKeyArrays(n int) pgKeyArrays {
	return pgKeyArrays{codes: make([]string, 0, n), buckets: make([]time.Time, 0, n), links: make([]int64, 0, n),
		bots: make([]bool, 0, n), workspaces: make([]int64, 0, n)}
}

// newPgValues returns pgValues with room for n rows.
func newPgValues(n int) pgValues {
	return pgValues{
		pgKeyArrays: newPgKeyArrays(n),
		clicks:      make([]int64, 0, n), visitors: make([][]byte, 0, n), dims: make([][]byte, 0, n),
	}
}

func (v *pgValues) add(r *aggregate.Row, clicks int64, visitors, dims []byte) {
	v.pgKeyArrays.add(r)
	v.clicks = append(v.clicks, clicks)
	v.visitors = append(v.visitors, visitors)
	v.dims = append(v.dims, dims)
}

func (v *pgValues) args() []any {
	return []any{v.codes, v.buckets, v.links, v.bots, v.clicks, v.visitors, v.dims, v.workspaces}
}

// pgPartRows is the most rows one statement writes or reads. A batch's
// rows take several statements (pipelined in the same round trip, in key
// order, so the lock order stays the same): a statement's parameter
// arrays, which pgx encodes by appending to a buffer that grows by a
// quarter at a time, stay around a megabyte, instead of a fresh buffer of
// several megabytes grown (and copied and paged in) from nothing for each
// statement.
const pgPartRows = 8192 // the default of pgBackend.partRows

// encodedSize bounds the bytes of the rows' encoded sketches and
// dimension counts (before a merge with stored ones, which may add
// values: the buffer then grows).
func encodedSize(rows []*aggregate.Row) int {
	n := 0
	for _, r := range rows {
		if r.Visitors != nil {
			n += r.Visitors.MaxEncodedLen()
		}
		n += 1 + len(r.Dims)
		for _, vs := range r.Dims {
			for _, v := range vs {
				n += len(v.Value) + 2 + 4 // a length below 128, clicks below 2^28
			}
		}
	}
	return n
}

// pgPart is a run of rows of one grain, in key order, for one statement.
type pgPart struct {
	g    aggregate.Grain
	rows []*aggregate.Row
}

// pgParts cuts the rows of each grain into runs of at most n,
// hourly first, keeping their order.
func pgParts(byGrain *[2][]*aggregate.Row, n int) []pgPart {
	var parts []pgPart
	for g, rows := range byGrain {
		for part := range slices.Chunk(rows, n) {
			parts = append(parts, pgPart{aggregate.Grain(g), part})
		}
	}
	return parts
}

// compareRows orders rows as the primary keys do: code (bytewise, the "C"
// collation), bucket, link ID, bot (false first), workspace.
func compareRows(a, b *aggregate.Row) int {
	return cmp.Or(strings.Compare(a.Code, b.Code), cmp.Compare(a.Bucket, b.Bucket),
		cmp.Compare(a.LinkID, b.LinkID), boolCompare(a.Bot, b.Bot), cmp.Compare(a.Workspace, b.Workspace))
}

func boolCompare(a, b bool) int { return cmp.Compare(boolInt(a), boolInt(b)) }

// writeRows writes the batch's offsets and aggregate rows in at most
// three round trips (pgx batches, pipelined):
//
//  1. the settings; each offset advanced only from the value expected
//     (the fence: offset rows first, so two writers of a partition
//     serialise on them); then, per table, every row of the batch
//     inserted with the batch's values where none is stored (ON CONFLICT
//     DO NOTHING, in primary-key order), returning the keys it inserted;
//  2. the rows that were stored already read and locked, in primary-key
//     order;
//  3. in Go, each of them merged with the batch's (clicks added, visitor
//     sketches and dimension counts merged), then UPDATEs per table,
//     the values passed as arrays (pgPartRows rows per statement).
//
// Each row is written once per batch, whatever the number of events and
// dimension values behind it. Deadlocks between the consumers that share
// rows (the roll-up; any row when links' clicks are spread over
// partitions) cannot happen: the inserts wait only for other inserts of
// the same key, in key order, and find every key that another transaction
// inserted committed by the time they go on (so step 2 locks committed
// rows only), and the locks of step 2 are taken in key order.
func (p *pgBackend) writeRows(ctx context.Context, tx pgx.Tx, b *Batch) error {
	var byGrain [2][]*aggregate.Row
	for i := range b.Rows {
		r := &b.Rows[i]
		byGrain[r.Grain] = append(byGrain[r.Grain], r)
	}
	for _, rows := range byGrain {
		slices.SortFunc(rows, compareRows)
	}
	first := &pgx.Batch{}
	first.Queue(pgSetup)
	offs := slices.Clone(b.Offsets)
	slices.SortFunc(offs, func(a, b Offset) int { // one lock order
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	for _, o := range offs {
		if o.Expected == NoOffset {
			first.Queue(`INSERT INTO stats_offsets (consumer_group, topic, partition, next_offset) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
				b.Group, o.Topic, o.Partition, o.Next)
		} else {
			first.Queue(`UPDATE stats_offsets SET next_offset = $4, updated_at = now()
				WHERE consumer_group = $1 AND topic = $2 AND partition = $3 AND next_offset = $5`,
				b.Group, o.Topic, o.Partition, o.Next, o.Expected)
		}
	}
	for _, pt := range pgParts(&byGrain, p.partRows) {
		g, rows := pt.g, pt.rows
		vals := newPgValues(len(rows))
		// Every row's encodings are cut from one buffer, sized first (an
		// append that moves it would leave the earlier ones where they
		// were, but growing it a quarter at a time was a tenth of the
		// write path's CPU).
		buf := make([]byte, 0, encodedSize(rows))
		for _, r := range rows {
			var vis []byte
			if r.Visitors != nil {
				at := len(buf)
				var err error
				if buf, err = r.Visitors.AppendBinary(buf); err != nil {
					return err
				}
				vis = buf[at:len(buf):len(buf)]
			}
			at := len(buf)
			buf = r.Dims.AppendBinary(buf)
			vals.add(r, r.Clicks, vis, buf[at:len(buf):len(buf)])
		}
		table, _ := tableOf(aggregate.Grain(g))
		first.Queue(`INSERT INTO `+table+` (code, bucket, link_id, bot, clicks, visitors, dims, workspace_id)
			SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::bigint[], $4::boolean[], $5::bigint[], $6::bytea[], $7::bytea[], $8::bigint[])
			ON CONFLICT DO NOTHING
			RETURNING code, bucket, link_id, bot, workspace_id`, vals.args()...)
	}
	stored, err := pgInsertNew(tx.SendBatch(ctx, first), offs, &byGrain, p.partRows)
	if err != nil {
		return err
	}
	if len(stored[0])+len(stored[1]) == 0 {
		return nil
	}
	second := &pgx.Batch{}
	for _, pt := range pgParts(&stored, p.partRows) {
		g, rows := pt.g, pt.rows
		keys := newPgKeyArrays(len(rows))
		for _, r := range rows {
			keys.add(r)
		}
		table, _ := tableOf(aggregate.Grain(g))
		second.Queue(pgLockRows(table), keys.codes, keys.buckets, keys.links, keys.bots, keys.workspaces)
	}
	third, err := p.readAndMerge(tx.SendBatch(ctx, second), stored)
	if err != nil {
		return err
	}
	if err := tx.SendBatch(ctx, third).Close(); err != nil {
		return fmt.Errorf("update rows: %w", err)
	}
	return nil
}

// pgLockRows reads and locks the stored rows of table whose keys are the
// parameter arrays (code, bucket, link ID, bot, workspace), in their
// order. Each key is probed through the primary key (TestLockRowsPlan):
// the partial (workspace_id, bucket) index cannot serve a probe.
func pgLockRows(table string) string {
	return `SELECT s.i, t.clicks, t.visitors, t.dims
			FROM unnest($1::text[], $2::timestamptz[], $3::bigint[], $4::boolean[], $5::bigint[]) WITH ORDINALITY AS s(code, bucket, link_id, bot, workspace_id, i)
			JOIN ` + table + ` t ON t.code = s.code COLLATE "C" AND t.bucket = s.bucket AND t.link_id = s.link_id AND t.bot = s.bot
				AND t.workspace_id = s.workspace_id
			ORDER BY s.i
			FOR UPDATE OF t`
}

// pgInsertNew reads the results of writeRows' first round trip and returns
// the rows of each grain that were stored already, in key order.
func pgInsertNew(res pgx.BatchResults, offs []Offset, byGrain *[2][]*aggregate.Row, partRows int) (stored [2][]*aggregate.Row, err error) {
	defer func() {
		if cerr := res.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	if _, err := res.Exec(); err != nil {
		return stored, fmt.Errorf("settings: %w", err)
	}
	for _, o := range offs {
		tag, err := res.Exec()
		if err != nil {
			return stored, fmt.Errorf("offset of %s/%d: %w", o.Topic, o.Partition, err)
		}
		if tag.RowsAffected() != 1 {
			return stored, fmt.Errorf("%s/%d expected at %d: %w", o.Topic, o.Partition, o.Expected, ErrFenced)
		}
	}
	for _, pt := range pgParts(byGrain, partRows) {
		g, rows := pt.g, pt.rows
		table, _ := tableOf(g)
		inserted := make(map[aggregate.Key]struct{}, len(rows))
		var k aggregate.Key
		var bucket time.Time
		qr, err := res.Query()
		if err == nil {
			_, err = pgx.ForEachRow(qr, []any{&k.Code, &bucket, &k.LinkID, &k.Bot, &k.Workspace}, func() error {
				k.Bucket = bucket.Unix()
				inserted[k] = struct{}{}
				return nil
			})
		}
		if err != nil {
			return stored, fmt.Errorf("insert into %s: %w", table, err)
		}
		for _, r := range rows {
			if _, ok := inserted[r.Key]; !ok {
				stored[g] = append(stored[g], r)
			}
		}
	}
	return stored, nil
}

// stored is a row as the database holds it.
type stored struct {
	found    bool
	clicks   int64
	visitors []byte
	dims     []byte
}

// readAndMerge reads the locked rows of writeRows' second round trip,
// merges them with the batch's and returns the third.
func (p *pgBackend) readAndMerge(res pgx.BatchResults, byGrain [2][]*aggregate.Row) (_ *pgx.Batch, err error) {
	defer func() {
		if cerr := res.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	write := &pgx.Batch{}
	for _, pt := range pgParts(&byGrain, p.partRows) {
		g, rows := pt.g, pt.rows
		table, _ := tableOf(g)
		olds := make([]stored, len(rows))
		var i int64
		var s stored
		qr, err := res.Query()
		if err == nil {
			_, err = pgx.ForEachRow(qr, []any{&i, &s.clicks, &s.visitors, &s.dims}, func() error {
				s.found = true
				olds[i-1] = s
				s = stored{}
				return nil
			})
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", table, err)
		}
		upd := newPgValues(len(rows))
		buf := make([]byte, 0, encodedSize(rows)) // the encodings, as in writeRows
		for j, r := range rows {
			if !olds[j].found {
				// Inserted and gone again: only a link deletion running
				// at the same time does that; count the batch again.
				return nil, fmt.Errorf("%s: a row of %q vanished under the batch", table, r.Code)
			}
			if buf, err = p.mergeRow(table, r, olds[j], &upd, buf); err != nil {
				return nil, err
			}
		}
		n := len(upd.codes)
		write.Queue(`UPDATE `+table+` t SET clicks = s.clicks,
			visitors = COALESCE(s.visitors, t.visitors), dims = s.dims
			FROM unnest($1::text[], $2::timestamptz[], $3::bigint[], $4::boolean[], $5::bigint[], $6::bytea[], $7::bytea[], $8::bigint[])
				AS s(code, bucket, link_id, bot, clicks, visitors, dims, workspace_id)
			WHERE t.code = s.code COLLATE "C" AND t.bucket = s.bucket AND t.link_id = s.link_id AND t.bot = s.bot
				AND t.workspace_id = s.workspace_id`,
			upd.args()...).Exec(func(tag pgconn.CommandTag) error {
			if tag.RowsAffected() != int64(n) {
				return fmt.Errorf("%s: %d of %d locked rows updated", table, tag.RowsAffected(), n)
			}
			return nil
		})
	}
	return write, nil
}

// mergeRow adds r, merged with what the stored row old holds, to upd,
// the encodings appended to buf (and cut from it).
func (p *pgBackend) mergeRow(table string, r *aggregate.Row, old stored, upd *pgValues, buf []byte) ([]byte, error) {
	var vis []byte // nil: the stored sketch stays
	if r.Visitors != nil {
		sk := r.Visitors
		if old.visitors != nil {
			merged := new(hll.Sketch)
			if err := merged.UnmarshalBinary(old.visitors); err != nil {
				// Unreadable: replace it with the batch's rather than stall
				// the ingest on a row no reader can use either.
				p.cfg.Logger.Warn("statsdb: replacing an unreadable visitors sketch", "table", table, "code", r.Code, "bucket", r.Time(), "err", err)
			} else {
				merged.Merge(sk)
				sk = merged
			}
		}
		at := len(buf)
		var err error
		if buf, err = sk.AppendBinary(buf); err != nil {
			return buf, err
		}
		if b := buf[at:len(buf):len(buf)]; !bytes.Equal(b, old.visitors) {
			vis = b
		} else {
			buf = buf[:at]
		}
	}
	at := len(buf)
	buf, err := r.Dims.MergeBinary(buf, old.dims)
	if err != nil {
		p.cfg.Logger.Warn("statsdb: replacing unreadable dimension counts", "table", table, "code", r.Code, "bucket", r.Time(), "err", err)
		buf = r.Dims.AppendBinary(buf[:at])
	}
	upd.add(r, old.clicks+r.Clicks, vis, buf[at:len(buf):len(buf)])
	return buf, nil
}
