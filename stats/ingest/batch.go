package ingest

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shortify/shortify/internal/clickevents"
	"github.com/shortify/shortify/internal/linkevents"
	"github.com/shortify/shortify/stats/aggregate"
	"github.com/shortify/shortify/stats/statsdb"
)

// batcher turns polled records into a statsdb.Batch, reusing its
// aggregation maps from batch to batch. A batch is made of one or more
// polls (add), then finish.
type batcher struct {
	c     *Consumer
	agg   *aggregate.Batch
	ev    clickevents.Event
	batch *statsdb.Batch
	// first is the offset of each partition's first record in the batch,
	// where a partition without a stored offset restarts after a failure.
	first map[tp]int64
	// offsets are the batch's partitions, in the order first seen.
	offsets []statsdb.Offset
	at      map[tp]int // index in offsets
	// records is the records added; clicks the clicks counted.
	records, clicks int
}

func newBatcher(c *Consumer) *batcher {
	return &batcher{c: c, agg: aggregate.NewBatch(), first: map[tp]int64{}, at: map[tp]int{}}
}

// reset starts a new batch.
func (w *batcher) reset() {
	w.agg.Reset()
	clear(w.first)
	clear(w.at)
	w.offsets = nil
	w.records, w.clicks = 0, 0
	w.batch = &statsdb.Batch{Group: w.c.cfg.Group}
	if w.c.cfg.DB.RawClicks() {
		w.batch.Clicks = make([]clickevents.Event, 0, 1024)
	}
}

// add aggregates the records of the partitions this consumer holds
// (positions). Records of other partitions (revoked while they were
// fetched) are left out: their new owner counts them.
func (w *batcher) add(fetches kgo.Fetches, positions map[tp]int64) {
	b := w.batch
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		if len(p.Records) == 0 {
			return
		}
		k := tp{p.Topic, p.Partition}
		expected, ok := positions[k]
		if !ok {
			return
		}
		from := expected // records before it were counted already
		i, seen := w.at[k]
		if seen {
			from = w.offsets[i].Next // or are in this batch
		}
		recs := p.Records
		// A fetch position behind the database or the batch (which
		// SetOffsets and the adjusted assignment should prevent) must not
		// count records twice.
		for len(recs) > 0 && from != statsdb.NoOffset && recs[0].Offset < from {
			recs = recs[1:]
		}
		if len(recs) == 0 {
			return
		}
		if from != statsdb.NoOffset && recs[0].Offset > from && w.c.seekBack(k, from, recs[0].Offset) {
			// A fetch position ahead of the database or the batch:
			// counting these records would store an offset past
			// records nobody counted. Seen after a stats instance was
			// killed: a partition handed back to a member whose fetch
			// cursor had moved on kept that cursor. The client seeks
			// back (seekBack) and the records come again.
			return
		}
		if recs[0].Offset == from {
			delete(w.c.gaps, k) // the records came again
		}
		w.records += len(recs)
		for _, r := range recs {
			if p.Topic == w.c.cfg.ClicksTopic {
				if w.click(r, b) {
					w.clicks++
				}
			} else {
				w.linkEvent(r, b)
			}
		}
		next := recs[len(recs)-1].Offset + 1
		if seen {
			w.offsets[i].Next = next
			return
		}
		w.first[k] = recs[0].Offset
		w.at[k] = len(w.offsets)
		w.offsets = append(w.offsets, statsdb.Offset{Topic: p.Topic, Partition: p.Partition, Expected: expected, Next: next})
	})
}

// finish returns the batch and its number of clicks.
func (w *batcher) finish() (*statsdb.Batch, int) {
	b := w.batch
	b.Offsets = w.offsets
	b.Rows = w.agg.Rows()
	return b, w.clicks
}

func (w *batcher) click(r *kgo.Record, b *statsdb.Batch) bool {
	// The aggregation copies the strings it keeps: a view of the record
	// saves two allocations per event. Raw clicks keep the event itself.
	var err error
	if b.Clicks != nil {
		err = w.ev.UnmarshalBinary(r.Value)
	} else {
		err = w.ev.UnmarshalView(r.Value)
	}
	if err != nil {
		w.skip(r, err)
		return false
	}
	w.agg.Add(&w.ev)
	if b.Clicks != nil {
		b.Clicks = append(b.Clicks, w.ev)
	}
	return true
}

func (w *batcher) linkEvent(r *kgo.Record, b *statsdb.Batch) {
	e, err := linkevents.DecodeRecord(r.Key, r.Value)
	if err != nil {
		w.skip(r, err)
		return
	}
	// Only the owner's explicit purge removes statistics: an expired link's,
	// and a deleted one's by default, stay (they are the link's history).
	if e.Type == linkevents.Deleted && e.PurgeStats {
		b.Deletions = append(b.Deletions, statsdb.Deletion{Code: e.Code, LinkID: e.LinkID, At: e.At})
	}
}

func (w *batcher) skip(r *kgo.Record, err error) {
	w.c.skipped.Add(1)
	level := w.c.cfg.Logger.Warn
	if errors.Is(err, clickevents.ErrVersion) || errors.Is(err, linkevents.ErrVersion) {
		level = w.c.cfg.Logger.Info // a newer producer: expected during upgrades
	}
	level("ingest: skipping a record", "topic", r.Topic, "partition", r.Partition, "offset", r.Offset, "err", err)
}
