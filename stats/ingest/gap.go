package ingest

import "github.com/twmb/franz-go/pkg/kgo"

// seekBack handles a partition whose fetched records start at first,
// after from, the next offset this consumer must count (stored in the
// database, or the end of the batch so far): it seeks the client back to
// from and reports true, so that the caller drops the records and they
// are polled again from from. The first time only: when the records
// start after from again once the client was sent back there, they are
// gone from the topic (retention deleted them, or the offsets between
// are not records), nothing can count them, and it reports false so
// that counting goes on from first. Only Run's goroutine calls it.
func (c *Consumer) seekBack(k tp, from, first int64) bool {
	if c.gaps == nil {
		c.gaps = map[tp]int64{}
	}
	if c.gaps[k] == from {
		delete(c.gaps, k)
		c.cfg.Logger.Error("ingest: records are missing from the topic; counting on after them",
			"topic", k.topic, "partition", k.partition, "from", from, "first", first, "missing", first-from)
		return false
	}
	c.gaps[k] = from
	c.seekBacks.Add(1)
	c.cfg.Logger.Warn("ingest: the fetch position was ahead of the counted offset; seeking back",
		"topic", k.topic, "partition", k.partition, "from", from, "first", first)
	c.cl.SetOffsets(map[string]map[int32]kgo.EpochOffset{k.topic: {k.partition: {Epoch: -1, Offset: from}}})
	return true
}
