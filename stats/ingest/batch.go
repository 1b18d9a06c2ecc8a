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
// aggregation maps from batch to batch.
type batcher struct {
	c     *Consumer
	agg   *aggregate.Batch
	ev    clickevents.Event
	batch *statsdb.Batch
	// first is the offset of each partition's first record in the batch,
	// where a partition without a stored offset restarts after a failure.
	first map[tp]int64
}

func newBatcher(c *Consumer) *batcher {
	return &batcher{c: c, agg: aggregate.NewBatch(), first: map[tp]int64{}}
}

// build aggregates the records of the partitions this consumer holds
// (positions) and returns the batch and its number of clicks. Records of
// other partitions (revoked while they were fetched) are left out: their
// new owner counts them.
func (w *batcher) build(fetches kgo.Fetches, positions map[tp]int64) (*statsdb.Batch, int) {
	w.agg.Reset()
	clear(w.first)
	b := &statsdb.Batch{Group: w.c.cfg.Group}
	if w.c.cfg.DB.RawClicks() {
		b.Clicks = make([]clickevents.Event, 0, 1024)
	}
	clicks := 0
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		if len(p.Records) == 0 {
			return
		}
		k := tp{p.Topic, p.Partition}
		expected, ok := positions[k]
		if !ok {
			return
		}
		recs := p.Records
		// Records before the stored offset were counted already: a fetch
		// position behind the database (which SetOffsets and the adjusted
		// assignment should prevent) must not count them twice.
		for len(recs) > 0 && expected != statsdb.NoOffset && recs[0].Offset < expected {
			recs = recs[1:]
		}
		if len(recs) == 0 {
			return
		}
		w.first[k] = recs[0].Offset
		for _, r := range recs {
			if p.Topic == w.c.cfg.ClicksTopic {
				if w.click(r, b) {
					clicks++
				}
			} else {
				w.linkEvent(r, b)
			}
		}
		b.Offsets = append(b.Offsets, statsdb.Offset{
			Topic: p.Topic, Partition: p.Partition,
			Expected: expected, Next: recs[len(recs)-1].Offset + 1,
		})
	})
	b.Rows = w.agg.Rows()
	w.batch = b
	return b, clicks
}

func (w *batcher) click(r *kgo.Record, b *statsdb.Batch) bool {
	if err := w.ev.UnmarshalBinary(r.Value); err != nil {
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
	if e.Type == linkevents.Deleted {
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
