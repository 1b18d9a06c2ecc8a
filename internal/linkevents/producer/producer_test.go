package producer

import (
	"bytes"
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/linkevents"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/testkit/kafkatest"

	"github.com/shortify/shortify/internal/testkit/testenv"
)

const topic = "shortify.link-events.test"

// waitTimeout bounds every wait; it only runs out when something is
// broken.
const waitTimeout = 30 * time.Second

var quiet = slog.New(slog.DiscardHandler)

// newProducer returns a producer on b, closed when the test ends.
func newProducer(t *testing.T, b *kafkatest.Broker, cfg Config) *Producer {
	t.Helper()
	cfg.Brokers = []string{b.Addr()}
	cfg.Topic = topic
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// waitFor polls cond until it holds, failing the test after waitTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testenv.WaitFor(t, what, waitTimeout, cond)
}

var at0 = time.Date(2026, 11, 26, 19, 0, 0, 0, time.UTC)

// event returns the seq-th event of code: updates whose URL carries seq,
// so the consumer can check the order.
func event(code string, seq int) linkevents.Event {
	l := linkstore.Link{ID: 1000 + int64(seq), Code: code, URL: fmt.Sprintf("https://example.com/%s/%d", code, seq)}
	return linkevents.NewUpdated(l, at0.Add(time.Duration(seq)*time.Millisecond))
}

// seqOf returns the sequence number that event put in the URL.
func seqOf(t *testing.T, e linkevents.Event) int {
	t.Helper()
	i := strings.LastIndexByte(e.State.URL, '/')
	n, err := strconv.Atoi(e.State.URL[i+1:])
	if err != nil {
		t.Fatalf("URL %q: %v", e.State.URL, err)
	}
	return n
}

// TestOrderPerCode: the events of each code arrive in the order they were
// published, in one partition, keyed by the code, decodable; codes spread
// over the partitions.
func TestOrderPerCode(t *testing.T) {
	b := kafkatest.StartBroker(t, 4, topic)
	p := newProducer(t, b, Config{})
	const codes, perCode = 24, 15
	var wg sync.WaitGroup
	for c := range codes {
		wg.Go(func() { // concurrent publishers, as concurrent requests
			for seq := range perCode {
				p.Publish(event(fmt.Sprintf("code%02d", c), seq))
			}
		})
	}
	wg.Wait()
	waitFor(t, "every event published", func() bool { return p.Stats().Published == codes*perCode })

	next := map[string]int{}
	partition := map[string]int32{}
	for _, r := range kafkatest.Consume(t, b.Addr(), topic, codes*perCode) {
		e, err := linkevents.DecodeRecord(r.Key, r.Value)
		if err != nil {
			t.Fatalf("record %q: %v", r.Value, err)
		}
		if p, ok := partition[e.Code]; ok && p != r.Partition {
			t.Fatalf("%s in partitions %d and %d", e.Code, p, r.Partition)
		}
		partition[e.Code] = r.Partition
		if seq := seqOf(t, e); seq != next[e.Code] {
			t.Fatalf("%s: event %d arrived when %d was due", e.Code, seq, next[e.Code])
		}
		next[e.Code]++
		if !r.Timestamp.Equal(e.At) {
			t.Errorf("record timestamp %s, event time %s", r.Timestamp, e.At)
		}
	}
	used := map[int32]bool{}
	for _, p := range partition {
		used[p] = true
	}
	if len(used) < 2 {
		t.Errorf("%d codes all went to partitions %v", codes, used)
	}
	if s := p.Stats(); s.Dropped != 0 || s.Failed != 0 {
		t.Errorf("stats %+v, want nothing dropped or failed", s)
	}
}

// TestBrokerDown: with the broker stopped, Publish keeps returning at
// once; the buffer takes MaxBufferedRecords events and every further one
// is dropped and counted exactly. When a broker is back on the address,
// the buffered events go out, in order, and new ones flow again.
func TestBrokerDown(t *testing.T) {
	b := kafkatest.StartBroker(t, 4, topic)
	var logs syncBuffer
	const buffered = 8
	p := newProducer(t, b, Config{
		MaxBufferedRecords: buffered,
		Logger:             slog.New(slog.NewTextHandler(&logs, nil)),
	})
	for seq := range 3 {
		p.Publish(event("abc", seq))
	}
	waitFor(t, "the first events published", func() bool { return p.Stats().Published == 3 })

	b.Stop()
	const extra = 5
	start := time.Now()
	for seq := 3; seq < 3+buffered+extra; seq++ {
		p.Publish(event("abc", seq))
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("publishing %d events with the broker down took %s", buffered+extra, d)
	}
	waitFor(t, "the overflow dropped", func() bool { return p.Stats().Dropped == extra })
	if s := p.Stats(); s.Published != 3 || s.Failed != 0 || s.Buffered != buffered || p.Room() != 0 {
		t.Fatalf("broker down: stats %+v, room %d; want 3 published, %d buffered, none failed, no room", s, p.Room(), buffered)
	}
	// One warning for the five drops (the rate limit holds the others).
	if n := strings.Count(logs.String(), "link events dropped"); n != 1 {
		t.Errorf("%d drop warnings, want 1:\n%s", n, logs.String())
	}

	b.Restart()
	waitFor(t, "the buffered events published", func() bool { return p.Stats().Published == 3+buffered })
	for seq := 3 + buffered + extra; seq < 3+buffered+extra+4; seq++ {
		p.Publish(event("abc", seq))
	}
	waitFor(t, "new events published", func() bool { return p.Stats().Published == 3+buffered+4 })
	if s := p.Stats(); s.Dropped != extra || s.Failed != 0 {
		t.Fatalf("after the broker returned: stats %+v, want exactly %d dropped, none failed", s, extra)
	}

	var got []int
	for _, r := range kafkatest.Consume(t, b.Addr(), topic, 3+buffered+4) {
		e, err := linkevents.DecodeRecord(r.Key, r.Value)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, seqOf(t, e))
	}
	var want []int
	for seq := range 3 + buffered {
		want = append(want, seq)
	}
	for seq := 3 + buffered + extra; seq < 3+buffered+extra+4; seq++ {
		want = append(want, seq)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events in the topic: %v, want %v (the dropped ones missing)", got, want)
	}
}

// TestCloseFlushes: Close delivers what is buffered, and later events are
// dropped without a panic.
func TestCloseFlushes(t *testing.T) {
	b := kafkatest.StartBroker(t, 4, topic)
	p := newProducer(t, b, Config{})
	for seq := range 50 {
		p.Publish(event(fmt.Sprint("c", seq%5), seq))
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if s := p.Stats(); s.Published != 50 || s.Dropped != 0 || s.Failed != 0 {
		t.Fatalf("after Close: %+v, want all 50 published", s)
	}
	p.Publish(event("late", 0))
	if s := p.Stats(); s.Dropped != 1 {
		t.Fatalf("an event after Close: %+v, want it dropped", s)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	kafkatest.Consume(t, b.Addr(), topic, 50)
	noClientGoroutines(t)
}

// TestCloseBounded: with the broker down, Close gives up after
// CloseTimeout, counts the undelivered events as failed, and leaves no
// goroutine behind.
func TestCloseBounded(t *testing.T) {
	b := kafkatest.StartBroker(t, 4, topic)
	p := newProducer(t, b, Config{CloseTimeout: 200 * time.Millisecond})
	p.Publish(event("abc", 0))
	waitFor(t, "the first event published", func() bool { return p.Stats().Published == 1 })
	b.Stop()
	for seq := 1; seq <= 3; seq++ {
		p.Publish(event("abc", seq))
	}
	start := time.Now()
	err := p.Close()
	if err == nil {
		t.Fatal("Close with undelivered events: no error")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %s with a close timeout of 200ms", d)
	}
	if s := p.Stats(); s.Published != 1 || s.Failed != 3 || s.Buffered != 0 {
		t.Fatalf("after Close: %+v, want 1 published and 3 failed", s)
	}
	noClientGoroutines(t)
}

// TestInvalidEventFails: an event that breaks the format is never sent.
func TestInvalidEventFails(t *testing.T) {
	b := kafkatest.StartBroker(t, 4, topic)
	p := newProducer(t, b, Config{})
	p.Publish(linkevents.Event{Type: linkevents.Updated, Code: "abc"})
	if s := p.Stats(); s.Failed != 1 || s.Published != 0 {
		t.Fatalf("stats %+v, want 1 failed", s)
	}
}

func TestNilProducer(t *testing.T) {
	var p *Producer
	p.Publish(event("abc", 0))
	if s := p.Stats(); s != (Stats{}) || p.Room() != 0 || p.Close() != nil {
		t.Fatalf("nil producer: %+v", s)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{Brokers: []string{"127.0.0.1:9"}, MaxBufferedRecords: -1},
		{Brokers: []string{"127.0.0.1:9"}, MaxBufferedBytes: 1024},
		{Brokers: []string{"127.0.0.1:9"}, CloseTimeout: -time.Second},
	} {
		if p, err := New(cfg); err == nil {
			_ = p.Close()
			t.Errorf("New(%+v): no error", cfg)
		}
	}
}

// TestLimiter: one line per interval, with the count of those held back.
func TestLimiter(t *testing.T) {
	l := limiter{every: 10 * time.Second}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	steps := []struct {
		at      time.Duration
		ok      bool
		skipped int
	}{
		{0, true, 0}, {time.Second, false, 0}, {9 * time.Second, false, 0},
		{10 * time.Second, true, 2}, {11 * time.Second, false, 0}, {time.Minute, true, 1},
	}
	for _, s := range steps {
		ok, skipped := l.allow(t0.Add(s.at))
		if ok != s.ok || skipped != s.skipped {
			t.Fatalf("at %s: allow = %t, %d; want %t, %d", s.at, ok, skipped, s.ok, s.skipped)
		}
	}
}

// noClientGoroutines fails when a franz-go client goroutine is still
// running (after the test's own clients have been closed). A goroutine
// that has finished its last promise may take a moment to return.
func noClientGoroutines(t *testing.T) {
	t.Helper()
	var stacks string
	waitFor(t, "the client's goroutines to end", func() bool {
		buf := make([]byte, 1<<20)
		stacks = string(buf[:runtime.Stack(buf, true)])
		for g := range strings.SplitSeq(stacks, "\n\n") {
			if strings.Contains(g, "franz-go/pkg/kgo.") {
				return false
			}
		}
		return true
	})
}

// syncBuffer is a bytes.Buffer for a logger written from the client's
// goroutine and read by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
