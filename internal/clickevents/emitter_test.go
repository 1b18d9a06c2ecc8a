package clickevents_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/clickevents"
	"github.com/shortify/shortify/internal/testkit/kafkatest"
	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/kafkabroker"
)

const topic = clickevents.DefaultTopic

var quiet = slog.New(slog.DiscardHandler)

// testBroker is a broker a test can stop and start again on the same
// address with the same data directory.
type testBroker struct {
	t    *testing.T
	addr string
	dir  string
	b    *kafkabroker.Broker
}

func startBroker(t *testing.T) *testBroker {
	t.Helper()
	tb := &testBroker{t: t, addr: "127.0.0.1:0", dir: t.TempDir()}
	tb.start()
	tb.addr = tb.b.Addr()
	t.Cleanup(tb.stop)
	return tb
}

func (tb *testBroker) start() {
	tb.t.Helper()
	b, err := kafkabroker.Start(tb.t.Context(), kafkabroker.Config{
		Listen: tb.addr, DataDir: tb.dir, Topics: []string{topic}, Partitions: 4,
	})
	if err != nil {
		tb.t.Fatal(err)
	}
	tb.b = b
}

func (tb *testBroker) stop() {
	if tb.b != nil {
		tb.b.Close()
		tb.b = nil
	}
}

func newEmitter(t *testing.T, addr string, cfg clickevents.Config) *clickevents.Emitter {
	t.Helper()
	cfg.Brokers = []string{addr}
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	e, err := clickevents.NewEmitter(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = e.Close(ctx)
	})
	return e
}

// click returns the i-th test event: one of seven codes, the link ID
// carrying i so that the consumer can tell events apart. Its time is now,
// as on the edge: the client times records out from their timestamp, the
// event time.
func click(i int) *clickevents.Event {
	return &clickevents.Event{
		Time:      time.Now().UTC().Truncate(time.Millisecond),
		Code:      fmt.Sprintf("code%d", i%7),
		LinkID:    int64(1000 + i),
		Status:    302,
		Visitor:   uint64(i*7919 + 1),
		Country:   "FR",
		Bot:       i%3 == 0,
		UserAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
		Referrer:  "https://example.org/page",
		Workspace: int64(1 + i%3),
	}
}

// checkFinal asserts the accounting after Close: every call counted once,
// every accepted event produced or failed, nothing queued.
func checkFinal(t *testing.T, s clickevents.EmitterStats, calls, accepted, refused int) {
	t.Helper()
	if s.Emitted != uint64(accepted) || s.Dropped != uint64(refused) || int(s.Emitted+s.Dropped) != calls ||
		s.Produced+s.Failed != s.Emitted || s.Queued != 0 || s.QueuedBytes != 0 {
		t.Fatalf("after Close: %+v; want Emitted = %d (true returns), Dropped = %d (false returns), "+
			"Emitted + Dropped = %d calls, Produced + Failed = Emitted, nothing queued", s, accepted, refused, calls)
	}
}

// TestEmitterDelivers: events arrive keyed by code, stamped with the event
// time, and decode to what was emitted.
func TestEmitterDelivers(t *testing.T) {
	b := startBroker(t)
	e := newEmitter(t, b.addr, clickevents.Config{Topic: topic, Compression: "lz4"})
	const n = 500
	sent := make([]*clickevents.Event, n)
	for i := range n {
		sent[i] = click(i)
		if !e.Emit(sent[i]) {
			t.Fatalf("Emit %d refused: %+v", i, e.Stats())
		}
	}
	if err := e.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	s := e.Stats()
	checkFinal(t, s, n, n, 0)
	if s.Produced != n {
		t.Fatalf("after Close: %+v, want all %d produced", s, n)
	}
	seen := make(map[int64]bool)
	for _, r := range kafkatest.Consume(t, b.addr, topic, n) {
		var ev clickevents.Event
		if err := ev.UnmarshalBinary(r.Value); err != nil {
			t.Fatal(err)
		}
		want := sent[ev.LinkID-1000]
		if ev != *want || string(r.Key) != string(want.Key()) || !r.Timestamp.Equal(want.Time) || seen[ev.LinkID] {
			t.Fatalf("record key %q, time %s, event %+v; want key %q (Event.Key), time %s, event %+v, once",
				r.Key, r.Timestamp, ev, want.Key(), want.Time, *want)
		}
		seen[ev.LinkID] = true
	}
	kafkatest.NoClientGoroutines(t)
}

// TestEmitterBrokerDown: with the broker stopped, a sustained stream of
// Emit calls never blocks; the buffer fills and the rest is dropped; every
// call is counted exactly once; when the broker returns on the same
// address, events flow again; the topic holds exactly the produced events.
func TestEmitterBrokerDown(t *testing.T) {
	b := startBroker(t)
	const buffered = 500
	e := newEmitter(t, b.addr, clickevents.Config{Topic: topic, MaxBufferedRecords: buffered})
	calls, accepted := 0, 0
	emit := func(i int) {
		calls++
		start := time.Now()
		if e.Emit(click(i)) {
			accepted++
		}
		// Emit never waits for the broker: were it to, the stream
		// below would stall until the broker returns, which it does
		// only after the stream. The bound is loose because this
		// machine is shared (a descheduled thread, a GC pause).
		if d := time.Since(start); d > 500*time.Millisecond {
			t.Fatalf("Emit %d took %s", i, d)
		}
	}
	for i := range 100 {
		emit(i)
	}
	kafkatest.WaitFor(t, "the first events produced", func() bool { return e.Stats().Produced == 100 })

	b.stop()
	// A sustained stream: about 20,000 calls over a second and a half;
	// the buffer overflows.
	start := time.Now()
	pace := time.NewTicker(5 * time.Millisecond) // paces the stream: 100 calls a tick
	defer pace.Stop()
	for i := 100; time.Since(start) < 1500*time.Millisecond; i++ {
		emit(i)
		if i%100 == 0 {
			<-pace.C
		}
	}
	down := e.Stats()
	if down.Dropped == 0 || down.Queued > buffered {
		t.Fatalf("broker down: %+v; want drops and at most %d queued", down, buffered)
	}
	t.Logf("broker down: %d calls, stats %+v", calls, down)

	b.start()
	restarted := time.Now()
	kafkatest.WaitFor(t, "the buffer to drain", func() bool { return e.Stats().Queued == 0 })
	t.Logf("buffer drained %s after the broker returned", time.Since(restarted).Round(time.Millisecond))
	before := e.Stats().Produced
	for i := range 50 {
		emit(1_000_000 + i)
	}
	kafkatest.WaitFor(t, "new events produced", func() bool { return e.Stats().Produced == before+50 })

	if err := e.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	s := e.Stats()
	checkFinal(t, s, calls, accepted, calls-accepted)
	t.Logf("final: %d calls, %+v", calls, s)
	// Failed events never reached the log; produced ones did, once.
	kafkatest.Consume(t, b.addr, topic, int(s.Produced))
	kafkatest.NoClientGoroutines(t)
}

// TestEmitterNoBroker: with nothing listening at the address from the
// start, Emit still returns at once; RecordTimeout turns the buffer into
// failures, which makes room again; a bounded Close fails what is left.
// Every call is counted once.
func TestEmitterNoBroker(t *testing.T) {
	e := newEmitter(t, testenv.FreeAddr(t), clickevents.Config{MaxBufferedRecords: 100, RecordTimeout: time.Second})
	n := 1000
	start := time.Now()
	accepted := 0
	for i := range n {
		if e.Emit(click(i)) {
			accepted++
		}
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("%d Emit calls with no broker took %s", n, d)
	}
	// The buffer's 100, or a few more if the first ones already timed
	// out on a very slow machine.
	if accepted < 100 || accepted > 200 {
		t.Errorf("accepted %d, want the buffer's 100", accepted)
	}
	kafkatest.WaitFor(t, "the buffer to fail after RecordTimeout", func() bool {
		s := e.Stats()
		return s.Failed == uint64(accepted) && s.Queued == 0
	})
	for i := range 10 {
		n++
		if !e.Emit(click(i)) {
			t.Fatalf("Emit refused after the buffer emptied: %+v", e.Stats())
		}
		accepted++
	}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start = time.Now()
	if err := e.Close(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Close: %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Close took %s with a 200ms context", d)
	}
	s := e.Stats()
	checkFinal(t, s, n, accepted, n-accepted)
	if s.Failed != uint64(accepted) {
		t.Errorf("after Close: %+v, want all %d accepted events failed", s, accepted)
	}
	if e.Emit(click(0)) || e.Stats().Dropped != uint64(n-accepted+1) {
		t.Errorf("Emit after Close accepted, or not counted as dropped: %+v", e.Stats())
	}
	if err := e.Close(t.Context()); err != nil {
		t.Errorf("second Close: %v", err)
	}
	kafkatest.NoClientGoroutines(t)
}

// TestEmitterRefusesInvalid: an event that does not encode is dropped and
// counted, never sent.
func TestEmitterRefusesInvalid(t *testing.T) {
	e := newEmitter(t, testenv.FreeAddr(t), clickevents.Config{})
	bad := click(0)
	bad.Code = "no/slash"
	if e.Emit(bad) {
		t.Fatal("an invalid event was accepted")
	}
	if s := e.Stats(); s.Dropped != 1 || s.Emitted != 0 {
		t.Fatalf("stats %+v, want one dropped", s)
	}
}

func TestNewEmitterRefusesBadConfig(t *testing.T) {
	for name, cfg := range map[string]clickevents.Config{
		"no brokers":  {},
		"compression": {Brokers: []string{"x:1"}, Compression: "brotli"},
		"buffer":      {Brokers: []string{"x:1"}, MaxBufferedRecords: -1},
		"bytes":       {Brokers: []string{"x:1"}, MaxBufferedBytes: 100},
	} {
		if _, err := clickevents.NewEmitter(cfg); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// BenchmarkEmit measures Emit against an in-process broker that keeps up
// (the buffer is large enough that nothing is dropped in a run). ns/op is
// what the caller waits; cpu-ns/op is all the CPU the process spends per
// event: Emit, the client's batching, compression and sending, and the
// in-process broker's work.
func BenchmarkEmit(b *testing.B) {
	br, err := kafkabroker.Start(b.Context(), kafkabroker.Config{Listen: "127.0.0.1:0", Topics: []string{topic}})
	if err != nil {
		b.Fatal(err)
	}
	defer br.Close()
	e, err := clickevents.NewEmitter(clickevents.Config{Brokers: []string{br.Addr()}, Logger: quiet, MaxBufferedRecords: 1 << 20, MaxBufferedBytes: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	ev := click(1)
	b.ReportAllocs()
	start := clickevents.CPUTime(b)
	for b.Loop() {
		e.Emit(ev)
	}
	if err := e.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	clickevents.ReportCPU(b, start)
	s := e.Stats()
	b.ReportMetric(float64(s.Dropped), "dropped")
	if s.Failed != 0 {
		b.Fatalf("stats %+v", s)
	}
}
