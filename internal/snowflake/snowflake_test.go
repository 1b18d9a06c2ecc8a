package snowflake

import (
	"errors"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a Clock the test sets, in milliseconds since Epoch.
type fakeClock struct{ ms atomic.Int64 }

func (c *fakeClock) set(ms int64) { c.ms.Store(ms) }

func (c *fakeClock) now() time.Time { return time.UnixMilli(EpochUnixMilli + c.ms.Load()) }

// fields returns an ID's timestamp in milliseconds since Epoch and its
// sequence, through Parse.
func fields(id int64) (ms int64, worker uint16, seq uint16) {
	ts, worker, seq := Parse(id)
	return ts.UnixMilli() - EpochUnixMilli, worker, seq
}

func TestEpoch(t *testing.T) {
	t.Parallel()
	want := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	if !Epoch.Equal(want) || Epoch.UnixMilli() != EpochUnixMilli || Epoch.Location() != time.UTC {
		t.Fatalf("Epoch = %v (%d ms), want %v", Epoch, Epoch.UnixMilli(), want)
	}
	// 41 bits of milliseconds last until 2094.
	end, _, _ := Parse(math.MaxInt64)
	if end.Year() != 2094 {
		t.Errorf("the last ID's time is %v, want a time in 2094", end)
	}
}

func TestNewWorker(t *testing.T) {
	t.Parallel()
	for _, w := range []uint16{MaxWorker + 1, 4096, math.MaxUint16} {
		if g, err := New(w, -1, nil); !errors.Is(err, ErrInvalidWorker) || g != nil {
			t.Errorf("New(%d) = %v, %v, want ErrInvalidWorker", w, g, err)
		}
	}
	for _, w := range []uint16{0, 1, MaxWorker} {
		g, err := New(w, -1, nil)
		if err != nil {
			t.Fatalf("New(%d): %v", w, err)
		}
		id, err := g.Next()
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		if _, got, _ := fields(id); got != w {
			t.Errorf("worker %d made ID %d with worker field %d", w, id, got)
		}
	}
}

// step sets the clock, calls Next calls times and expects the last ID to
// hold timestamp ms and sequence seq, or the call to fail with err.
type step struct {
	clock int64
	calls int
	ms    int64
	seq   uint16
	err   error
}

func TestNext(t *testing.T) {
	t.Parallel()
	const w = 513
	tests := []struct {
		name     string
		notAfter int64
		steps    []step
	}{
		{
			name:     "clock moving forward",
			notAfter: -1,
			steps: []step{
				{clock: 1000, calls: 1, ms: 1000, seq: 0},
				{clock: 1000, calls: 1, ms: 1000, seq: 1},
				{clock: 1001, calls: 1, ms: 1001, seq: 0},
				{clock: 5000, calls: 3, ms: 5000, seq: 2},
			},
		},
		{
			name:     "clock set back",
			notAfter: -1,
			steps: []step{
				{clock: 1000, calls: 3, ms: 1000, seq: 2},
				{clock: 900, calls: 1, ms: 1000, seq: 3},  // keeps the last timestamp
				{clock: 0, calls: 2, ms: 1000, seq: 5},    // far back
				{clock: -50, calls: 1, ms: 1000, seq: 6},  // before Epoch
				{clock: 1000, calls: 1, ms: 1000, seq: 7}, // caught up
				{clock: 1001, calls: 1, ms: 1001, seq: 0},
			},
		},
		{
			name:     "clock set back across a sequence overflow",
			notAfter: -1,
			steps: []step{
				{clock: 1000, calls: 1, ms: 1000, seq: 0},
				{clock: 10, calls: MaxSequence, ms: 1000, seq: MaxSequence},
				{clock: 10, calls: 1, ms: 1001, seq: 0},
			},
		},
		{
			name:     "sequence overflow",
			notAfter: -1,
			steps: []step{
				{clock: 1000, calls: MaxSequence + 1, ms: 1000, seq: MaxSequence},
				{clock: 1000, calls: 1, ms: 1001, seq: 0}, // ahead of the clock, no wait
				{clock: 1000, calls: 1, ms: 1001, seq: 1},
				{clock: 1000, calls: 2 * (MaxSequence + 1), ms: 1003, seq: 1},
				{clock: 1002, calls: 1, ms: 1003, seq: 2}, // the clock has not caught up
				{clock: 1004, calls: 1, ms: 1004, seq: 0},
			},
		},
		{
			name:     "notAfterMs ahead of the clock",
			notAfter: 5000,
			steps: []step{
				{clock: 1000, calls: 1, ms: 5001, seq: 0},
				{clock: 1000, calls: 1, ms: 5001, seq: 1},
				{clock: 5001, calls: 1, ms: 5001, seq: 2},
				{clock: 5002, calls: 1, ms: 5002, seq: 0},
			},
		},
		{
			name:     "notAfterMs equal to the clock",
			notAfter: 1000,
			steps:    []step{{clock: 1000, calls: 1, ms: 1001, seq: 0}},
		},
		{
			name:     "notAfterMs behind the clock",
			notAfter: 1000,
			steps:    []step{{clock: 2000, calls: 1, ms: 2000, seq: 0}},
		},
		{
			name:     "fresh worker with the clock before Epoch",
			notAfter: -1,
			steps: []step{
				{clock: -5, calls: 1, ms: 0, seq: 0},
				{clock: math.MinInt32, calls: 1, ms: 0, seq: 1},
			},
		},
		{
			name:     "negative notAfterMs means none",
			notAfter: -12345,
			steps:    []step{{clock: -5, calls: 1, ms: 0, seq: 0}},
		},
		{
			name:     "end of the ID space",
			notAfter: MaxTimestamp - 1,
			steps: []step{
				{clock: 0, calls: MaxSequence + 1, ms: MaxTimestamp, seq: MaxSequence},
				{clock: 0, calls: 1, err: ErrTimeOverflow},
				{clock: MaxTimestamp, calls: 1, err: ErrTimeOverflow}, // still nothing left
			},
		},
		{
			name:     "clock past the end of the ID space",
			notAfter: -1,
			steps: []step{
				{clock: MaxTimestamp, calls: 1, ms: MaxTimestamp, seq: 0},
				{clock: MaxTimestamp + 1, calls: 1, err: ErrTimeOverflow},
				{clock: MaxTimestamp, calls: 1, ms: MaxTimestamp, seq: 1}, // and back again
			},
		},
		{
			name:     "notAfterMs past the end of the ID space",
			notAfter: math.MaxInt64,
			steps:    []step{{clock: 0, calls: 1, err: ErrTimeOverflow}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var clock fakeClock
			g, err := New(w, tt.notAfter, clock.now)
			if err != nil {
				t.Fatal(err)
			}
			prev := int64(-1)
			for i, s := range tt.steps {
				clock.set(s.clock)
				var id int64
				for range s.calls {
					id, err = g.Next()
					if err != nil {
						break
					}
					if id <= prev {
						t.Fatalf("step %d: ID %d after %d", i, id, prev)
					}
					prev = id
				}
				if s.err != nil {
					if !errors.Is(err, s.err) {
						t.Fatalf("step %d: Next error %v, want %v", i, err, s.err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("step %d: Next: %v", i, err)
				}
				ms, worker, seq := fields(id)
				if ms != s.ms || seq != s.seq || worker != w {
					t.Fatalf("step %d: last ID has ms %d, worker %d, seq %d; want %d, %d, %d",
						i, ms, worker, seq, s.ms, w, s.seq)
				}
				if ms <= tt.notAfter {
					t.Fatalf("step %d: ID at %d ms, not after %d", i, ms, tt.notAfter)
				}
				if got := g.LastMs(); got != ms {
					t.Fatalf("step %d: LastMs = %d, want %d", i, got, ms)
				}
			}
		})
	}
}

func TestLastMsBeforeNext(t *testing.T) {
	t.Parallel()
	for _, notAfter := range []int64{-1, 0, 123456} {
		g, err := New(1, notAfter, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := g.LastMs(); got != notAfter {
			t.Errorf("New(1, %d).LastMs() = %d, want %d", notAfter, got, notAfter)
		}
	}
}

// TestReusedWorker hands a worker ID from one holder to the next through
// LastMs, as the control plane's lease does, with the new holder's clock
// behind the old one's.
func TestReusedWorker(t *testing.T) {
	t.Parallel()
	var clock1, clock2 fakeClock
	clock1.set(50_000)
	clock2.set(40_000)
	g1, err := New(7, -1, clock1.now)
	if err != nil {
		t.Fatal(err)
	}
	var last int64
	for range 10_000 { // overflows the sequence: runs ahead of clock1
		if last, err = g1.Next(); err != nil {
			t.Fatal(err)
		}
	}
	g2, err := New(7, g1.LastMs(), clock2.now)
	if err != nil {
		t.Fatal(err)
	}
	id, err := g2.Next()
	if err != nil {
		t.Fatal(err)
	}
	if id <= last {
		t.Fatalf("the new holder's first ID %d is not after the old holder's last %d", id, last)
	}
	if ms, _, _ := fields(id); ms != g1.LastMs()+1 {
		t.Errorf("the new holder starts at %d ms, want %d", ms, g1.LastMs()+1)
	}
}

// TestConcurrent calls Next from many goroutines: with a clock that stands
// still, so they race for the sequence and its overflow, and with the real
// clock.
func TestConcurrent(t *testing.T) {
	t.Parallel()
	var still fakeClock
	still.set(1_000)
	for name, clock := range map[string]Clock{"clock standing still": still.now, "time.Now": nil} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			g, err := New(42, -1, clock)
			if err != nil {
				t.Fatal(err)
			}
			const goroutines, each = 16, 5_000
			ids := make([][]int64, goroutines)
			var wg sync.WaitGroup
			for i := range ids {
				wg.Go(func() {
					ids[i] = make([]int64, 0, each)
					for range each {
						id, err := g.Next()
						if err != nil {
							t.Error(err)
							return
						}
						ids[i] = append(ids[i], id)
					}
				})
			}
			wg.Wait()
			var all []int64
			for i, got := range ids {
				// Each goroutine sees its own IDs in increasing order.
				if !slices.IsSorted(got) {
					t.Errorf("goroutine %d: IDs out of order", i)
				}
				all = append(all, got...)
			}
			slices.Sort(all)
			if len(slices.Compact(all)) != goroutines*each {
				t.Fatalf("%d distinct IDs, want %d", len(slices.Compact(all)), goroutines*each)
			}
			if last, _, _ := fields(all[len(all)-1]); last != g.LastMs() {
				t.Errorf("LastMs = %d, the highest ID has %d", g.LastMs(), last)
			}
		})
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		id     int64
		ms     int64
		worker uint16
		seq    uint16
	}{
		{0, 0, 0, 0},
		{1, 0, 0, 1},
		{1 << 12, 0, 1, 0},
		{1 << 22, 1, 0, 0},
		{5<<22 | 3<<12 | 9, 5, 3, 9},
		{math.MaxInt64, MaxTimestamp, MaxWorker, MaxSequence},
		{MaxTimestamp << 22, MaxTimestamp, 0, 0},
	}
	for _, tt := range tests {
		ts, worker, seq := Parse(tt.id)
		want := Epoch.Add(time.Duration(tt.ms) * time.Millisecond)
		if !ts.Equal(want) || ts.Location() != time.UTC || worker != tt.worker || seq != tt.seq {
			t.Errorf("Parse(%d) = %v, %d, %d, want %v, %d, %d", tt.id, ts, worker, seq, want, tt.worker, tt.seq)
		}
	}

	// IDs from a generator parse back to its clock and worker.
	at := time.Date(2031, 7, 14, 9, 26, 53, 589_000_000, time.UTC)
	g, err := New(MaxWorker, -1, func() time.Time { return at })
	if err != nil {
		t.Fatal(err)
	}
	for i := range uint16(3) {
		id, err := g.Next()
		if err != nil {
			t.Fatal(err)
		}
		ts, worker, seq := Parse(id)
		if !ts.Equal(at) || worker != MaxWorker || seq != i {
			t.Errorf("Parse(%d) = %v, %d, %d, want %v, %d, %d", id, ts, worker, seq, at, MaxWorker, i)
		}
	}
}

var sink int64

func BenchmarkNext(b *testing.B) {
	g, err := New(1, -1, nil)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		id, err := g.Next()
		if err != nil {
			b.Fatal(err)
		}
		sink = id
	}
}

// BenchmarkNextParallel measures one Generator shared by all cores.
func BenchmarkNextParallel(b *testing.B) {
	g, err := New(1, -1, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := g.Next(); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func TestIDAt(t *testing.T) {
	at := Epoch.Add(90 * time.Minute)
	g, err := New(7, -1, func() time.Time { return at })
	if err != nil {
		t.Fatal(err)
	}
	id, err := g.Next()
	if err != nil {
		t.Fatal(err)
	}
	if lo, hi := IDAt(at), IDAt(at.Add(time.Millisecond)); id < lo || id >= hi {
		t.Fatalf("ID %d at %v is outside [IDAt(t), IDAt(t+1ms)) = [%d, %d)", id, at, lo, hi)
	}
	if IDAt(Epoch.Add(-time.Hour)) != 0 {
		t.Error("a time before the epoch must give 0")
	}
	if IDAt(Epoch.AddDate(200, 0, 0)) != MaxTimestamp<<(WorkerBits+SequenceBits) {
		t.Error("a time past the range must clamp")
	}
}
