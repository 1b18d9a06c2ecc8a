package ingest

import (
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shortify/shortify/stats/aggregate/aggtest"
)

// TestFetchAheadIsSentBack: records of a partition that start after the
// offset to count next (a fetch cursor that moved on while the partition
// was away, as after a stats instance was killed) are not counted, and
// the client is sent back to that offset; records that then start there
// are counted; and a gap met twice at the same offset (records gone from
// the topic) is counted past instead of sending the client back forever.
func TestFetchAheadIsSentBack(t *testing.T) {
	t.Parallel()
	db := openDB(t, "sqlite://"+filepath.Join(t.TempDir(), "s.db"), false)
	c, err := New(Config{Brokers: cluster(t), ClicksTopic: clicksTopic, LinkEventsTopic: linksTopic, Group: "g", DB: db, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.cl.Close)
	evs := aggtest.Events(rand.New(rand.NewPCG(61, 62)), 30, aggtest.Links(3), time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), time.Hour, 10)
	recs := clickRecords(t, evs)
	fetch := func(from, to int) kgo.Fetches {
		part := kgo.FetchPartition{Partition: 0}
		for i := from; i < to; i++ {
			r := recs[i]
			r.Partition, r.Offset = 0, int64(i)
			part.Records = append(part.Records, r)
		}
		return kgo.Fetches{{Topics: []kgo.FetchTopic{{Topic: clicksTopic, Partitions: []kgo.FetchPartition{part}}}}}
	}
	positions := map[tp]int64{{clicksTopic, 0}: 10} // 10 records counted
	steps := []struct {
		name      string
		from, to  int
		records   int   // the batch's records after the step
		next      int64 // the batch's next offset of the partition (0: none)
		seekBacks int64
	}{
		{"ahead: sent back", 15, 20, 0, 0, 1},
		{"from the counted offset", 10, 20, 10, 20, 1},
		{"ahead of the batch: sent back", 25, 30, 10, 20, 2},
		{"ahead at the same offset again: gone, counted past", 25, 30, 15, 30, 2},
	}
	w := newBatcher(c)
	w.reset()
	for _, s := range steps {
		w.add(fetch(s.from, s.to), positions)
		var next int64
		if i, ok := w.at[tp{clicksTopic, 0}]; ok {
			next = w.offsets[i].Next
		}
		if w.records != s.records || next != s.next || c.seekBacks.Load() != s.seekBacks {
			t.Fatalf("%s: %d records to offset %d, %d seek-backs; want %d to %d, %d",
				s.name, w.records, next, c.seekBacks.Load(), s.records, s.next, s.seekBacks)
		}
	}
	if b, n := w.finish(); n != 15 || b.Offsets[0].Expected != 10 || b.Offsets[0].Next != 30 {
		t.Errorf("batch of %d clicks, offsets %+v", n, b.Offsets)
	}
}
