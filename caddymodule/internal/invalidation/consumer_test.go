package invalidation

import (
	"context"
	"errors"
	"fmt"
	"github.com/shortify/shortify/internal/linkstore"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/shortify/shortify/internal/linkevents"
	"github.com/shortify/shortify/internal/testkit/kafkatest"
)

// promise is the bound the design sets: an event is applied within a
// second of being published while the edge is connected.
const promise = time.Second

// latencies summarises measured latencies for the test log.
func latencies(ds []time.Duration) string {
	s := slices.Clone(ds)
	slices.Sort(s)
	return fmt.Sprintf("n=%d min=%s p50=%s max=%s", len(s), s[0], s[len(s)/2], s[len(s)-1])
}

// TestLatency: an event published after Start is handed to the evict
// function within a second, with its code and content. The first one is
// published right after Start returns, before the consumer has even
// connected, and must not be lost; the others once it is connected. The
// measured latencies go to the test log (go test -v -run TestLatency).
func TestLatency(t *testing.T) {
	k := kafkatest.StartBroker(t, 4, topic)
	p := newProducer(t, k)
	r := &recorder{}
	c := startConsumer(t, k, r, Config{})

	first := update("first", 0)
	published := time.Now()
	p.Publish(first)
	got := r.waitEvicted(t, "first")
	t.Logf("first event, published right after Start: applied after %s", got.at.Sub(published))
	if got.e.Type != linkevents.Updated || got.e.LinkID != first.LinkID || got.e.State.URL != first.State.URL {
		t.Fatalf("evicted %+v, published %+v", got.e, first)
	}
	waitConnected(t, c)

	const n = 30
	var ds []time.Duration
	for i := range n {
		code := fmt.Sprintf("lat%02d", i)
		e := update(code, i)
		switch i % 3 { // every type reaches the evict function as it was published
		case 0:
			e = linkevents.NewDeleted(linkstore.Link{Code: code, ID: 0}, linkevents.ReasonAPI, time.Now())
		case 1:
			e.Type = linkevents.Created
		}
		published := time.Now()
		p.Publish(e)
		s := r.waitEvicted(t, code)
		d := s.at.Sub(published)
		if d > promise {
			t.Errorf("%s applied %s after it was published, more than %s", code, d, promise)
		}
		if s.e.Type != e.Type || s.e.Code != code {
			t.Errorf("evicted %s %s, published %s %s", s.e.Type, s.e.Code, e.Type, code)
		}
		ds = append(ds, d)
	}
	t.Logf("publish to evict, connected: %s", latencies(ds))

	// The same without the producer's linger (10 ms): from the write to
	// Kafka to the eviction, what the consumer itself adds.
	cl := rawClient(t, k)
	ds = ds[:0]
	for i := range 10 {
		code := fmt.Sprintf("raw%02d", i)
		v, err := linkevents.Encode(update(code, i))
		if err != nil {
			t.Fatal(err)
		}
		written := time.Now()
		if err := cl.ProduceSync(t.Context(), &kgo.Record{Key: []byte(code), Value: v, Partition: int32(i % 4)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		d := r.waitEvicted(t, code).at.Sub(written)
		if d > promise {
			t.Errorf("%s applied %s after it was written, more than %s", code, d, promise)
		}
		ds = append(ds, d)
	}
	t.Logf("write to evict (no producer linger), connected: %s", latencies(ds))
	waitFor(t, "every event counted", func() bool { return c.Stats().Applied == n+1+10 })
	if s := c.Stats(); s.Skipped() != 0 || s.Failed != 0 || !s.CaughtUp() {
		t.Fatalf("stats %+v, want nothing skipped or failed, caught up", s)
	}
}

// TestNoReplay: events published before Start are not applied; the first
// one after is.
func TestNoReplay(t *testing.T) {
	k := kafkatest.StartBroker(t, 4, topic)
	p := newProducer(t, k)
	var last time.Time
	for i := range 10 {
		e := update(fmt.Sprint("old", i), i)
		last = e.At
		p.Publish(e)
	}
	waitFor(t, "the old events published", func() bool { return p.Stats().Published == 10 })
	// Record timestamps are milliseconds: Start in a later one than the
	// last old event (a spin of under a millisecond).
	for time.Now().UnixMilli() <= last.UnixMilli() {
	}

	r := &recorder{}
	c := startConsumer(t, k, r, Config{})
	p.Publish(update("new", 0))
	r.waitEvicted(t, "new")
	waitFor(t, "the new event counted", func() bool { return c.Stats().Applied == 1 })
	if calls := r.calls(); len(calls) != 1 {
		t.Fatalf("%d evictions, want only the new event's: %v", len(calls), calls)
	}
}

// TestEveryEdge: two consumers (two edges) each get every event, in
// publication order per code.
func TestEveryEdge(t *testing.T) {
	k := kafkatest.StartBroker(t, 4, topic)
	p := newProducer(t, k)
	r1, r2 := &recorder{}, &recorder{}
	c1 := startConsumer(t, k, r1, Config{ClientID: "edge-1"})
	c2 := startConsumer(t, k, r2, Config{ClientID: "edge-2"})
	waitConnected(t, c1)
	waitConnected(t, c2)

	const codes, perCode = 8, 10
	for seq := range perCode {
		for i := range codes {
			p.Publish(update(fmt.Sprint("edge", i), seq))
		}
	}
	for i, c := range []*Consumer{c1, c2} {
		waitFor(t, fmt.Sprintf("edge %d to apply every event", i+1), func() bool { return c.Stats().Applied == codes*perCode })
	}
	for i, r := range []*recorder{r1, r2} {
		next := map[string]int{}
		for _, s := range r.calls() {
			want := fmt.Sprintf("https://example.com/%s/%d", s.code, next[s.code])
			if s.e.State.URL != want {
				t.Fatalf("edge %d: %s: got %s, want %s next", i+1, s.code, s.e.State.URL, want)
			}
			next[s.code]++
		}
		if len(next) != codes {
			t.Fatalf("edge %d saw %d codes, want %d", i+1, len(next), codes)
		}
	}
}

// TestSkipsBadRecords: garbage, a record whose key is not its code and a
// record of an unknown format version are counted and skipped; an evict
// error is counted; the events after them are applied.
func TestSkipsBadRecords(t *testing.T) {
	k := kafkatest.StartBroker(t, 1, topic)
	r := &recorder{fail: map[string]bool{"refused": true}}
	c := startConsumer(t, k, r, Config{})
	waitConnected(t, c)

	valid := func(code string) []byte {
		v, err := linkevents.Encode(update(code, 1))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	newer := []byte(`{"v":2,"type":"renamed","code":"abc","at":"2026-11-26T19:00:00Z"}`)
	recs := []*kgo.Record{
		{Key: []byte("abc"), Value: []byte("not json at all")},
		{Key: []byte("abc"), Value: nil},
		{Key: []byte("xyz"), Value: valid("abc")}, // key is not the code
		{Key: []byte("abc"), Value: newer},
		{Key: []byte("refused"), Value: valid("refused")},
		{Key: []byte("good"), Value: valid("good")},
	}
	cl := rawClient(t, k)
	if err := cl.ProduceSync(t.Context(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	r.waitEvicted(t, "good")
	s := c.Stats()
	if s.Invalid != 3 || s.UnknownVersion != 1 || s.Skipped() != 4 || s.Failed != 1 || s.Applied != 1 {
		t.Fatalf("stats %+v, want 3 invalid, 1 unknown version, 1 failed, 1 applied", s)
	}
	var codes []string
	for _, s := range r.calls() {
		codes = append(codes, s.code)
	}
	if fmt.Sprint(codes) != "[refused good]" {
		t.Fatalf("evict calls for %v, want [refused good]", codes)
	}
}

// TestBrokerRestart: with the broker stopped the consumer reports itself
// disconnected; once a broker is back on the same address it reconnects
// by itself, applies what was published during the outage, and new events
// flow within a second again.
func TestBrokerRestart(t *testing.T) {
	k := kafkatest.StartBroker(t, 4, topic)
	p := newProducer(t, k)
	r := &recorder{}
	c := startConsumer(t, k, r, Config{StaleAfter: time.Second})
	waitConnected(t, c)
	p.Publish(update("before", 0))
	r.waitEvicted(t, "before")

	k.Stop()
	waitFor(t, "the consumer to notice the outage", func() bool { return !c.Stats().Connected })
	p.Publish(update("during", 0)) // buffered by the producer

	restarted := time.Now()
	k.Restart()
	s := r.waitEvicted(t, "during")
	t.Logf("broker restarted: the event published during the outage applied %s later", s.at.Sub(restarted))
	waitConnected(t, c)

	var ds []time.Duration
	for i := range 5 {
		code := fmt.Sprint("after", i)
		published := time.Now()
		p.Publish(update(code, i))
		d := r.waitEvicted(t, code).at.Sub(published)
		if d > promise {
			t.Errorf("after the restart, %s applied %s after it was published, more than %s", code, d, promise)
		}
		ds = append(ds, d)
	}
	t.Logf("publish to evict after the restart: %s", latencies(ds))
	if st := c.Stats(); st.Applied != 7 || st.Skipped() != 0 {
		t.Fatalf("stats %+v, want 7 applied", st)
	}
}

// TestNewPartitions: a partition added to the topic after Start is found
// at the next metadata refresh, and its events are applied from its start.
func TestNewPartitions(t *testing.T) {
	k := kafkatest.StartBroker(t, 1, topic)
	r := &recorder{}
	c := startConsumer(t, k, r, Config{MetadataMaxAge: 250 * time.Millisecond})
	waitConnected(t, c)

	cl := rawClient(t, k)
	req := kmsg.NewPtrCreatePartitionsRequest()
	req.TimeoutMillis = 5000
	rt := kmsg.NewCreatePartitionsRequestTopic()
	rt.Topic, rt.Count = topic, 3
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(t.Context(), cl)
	if err != nil {
		t.Fatal(err)
	}
	for _, rt := range resp.Topics {
		if err := kerr.ErrorForCode(rt.ErrorCode); err != nil {
			t.Fatalf("create partitions: %v", err)
		}
	}

	for partition := int32(1); partition < 3; partition++ {
		code := fmt.Sprint("part", partition)
		v, err := linkevents.Encode(update(code, 0))
		if err != nil {
			t.Fatal(err)
		}
		// The producer's metadata may not show the partition yet.
		waitFor(t, "the producer to see the new partition", func() bool {
			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			defer cancel()
			return cl.ProduceSync(ctx, &kgo.Record{Key: []byte(code), Value: v, Partition: partition}).FirstErr() == nil
		})
		s := r.waitEvicted(t, code)
		t.Logf("event in new partition %d applied %s after its event time", partition, s.at.Sub(s.e.At))
	}
}

// TestClose: Close returns promptly, with the broker up or down, leaves no
// goroutine behind, and may be called again; Start after Close fails.
func TestClose(t *testing.T) {
	for _, down := range []bool{false, true} {
		t.Run(fmt.Sprintf("broker down %t", down), func(t *testing.T) {
			k := kafkatest.StartBroker(t, 4, topic)
			r := &recorder{}
			c := startConsumer(t, k, r, Config{})
			waitConnected(t, c)
			if down {
				k.Stop()
			}
			start := time.Now()
			c.Close()
			d := time.Since(start)
			t.Logf("Close took %s", d)
			if d > promise {
				t.Errorf("Close took %s", d)
			}
			noLeftGoroutines(t)
			c.Close()
			if s := c.Stats(); s.Connected {
				t.Errorf("closed consumer reports itself connected: %+v", s)
			}
			if err := c.Start(t.Context()); !errors.Is(err, ErrClosed) {
				t.Errorf("Start after Close: %v, want ErrClosed", err)
			}
		})
	}
}

// TestLifecycle: Start fails on a started consumer and on a done context;
// Close is safe on a consumer that never started or failed to; Run
// returns once its context ends.
func TestLifecycle(t *testing.T) {
	k := kafkatest.StartBroker(t, 1, topic)
	r := &recorder{}
	cfg := Config{Brokers: []string{k.Addr()}, Topic: topic, Evict: r.evict, Logger: quiet}

	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.Close() // never started
	c.Close()

	c, _ = New(cfg)
	done, cancel := context.WithCancel(t.Context())
	cancel()
	if err := c.Start(done); !errors.Is(err, context.Canceled) {
		t.Fatalf("Start on a done context: %v", err)
	}
	c.Close() // after a failed Start
	noLeftGoroutines(t)

	c, _ = New(cfg)
	if err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := c.Start(t.Context()); !errors.Is(err, ErrStarted) {
		t.Fatalf("second Start: %v, want ErrStarted", err)
	}
	if err := c.Run(t.Context()); !errors.Is(err, ErrStarted) {
		t.Fatalf("Run after Start: %v, want ErrStarted", err)
	}
	c.Close()

	c, _ = New(cfg)
	ctx, stop := context.WithCancel(t.Context())
	ran := make(chan error, 1)
	go func() { ran <- c.Run(ctx) }()
	waitConnected(t, c)
	stop()
	select {
	case err := <-ran:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(promise):
		t.Fatal("Run did not return within a second of its context ending")
	}
	c.Close()
	noLeftGoroutines(t)
}

func TestNewRefusesBadConfig(t *testing.T) {
	evict := func(context.Context, string, linkevents.Event) error { return nil }
	ok := Config{Brokers: []string{"127.0.0.1:9092"}, Evict: evict}
	for name, change := range map[string]func(*Config){
		"no brokers":          func(c *Config) { c.Brokers = nil },
		"broker without port": func(c *Config) { c.Brokers = []string{"kafka"} },
		"no evict":            func(c *Config) { c.Evict = nil },
		"negative wait":       func(c *Config) { c.FetchMaxWait = -time.Second },
		"wait over a second":  func(c *Config) { c.FetchMaxWait = 2 * time.Second },
		"stale before wait":   func(c *Config) { c.FetchMaxWait, c.StaleAfter = 500*time.Millisecond, 400*time.Millisecond },
		"negative age":        func(c *Config) { c.MetadataMaxAge = -time.Second },
		"negative log":        func(c *Config) { c.LogEvery = -time.Second },
	} {
		cfg := ok
		change(&cfg)
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New accepted %+v", name, cfg)
		}
	}
	c, err := New(ok)
	if err != nil {
		t.Fatal(err)
	}
	if c.Topic() != linkevents.DefaultTopic {
		t.Errorf("default topic %q", c.Topic())
	}
}

// TestBackoff: retries start at 100 ms and never wait more than a second.
func TestBackoff(t *testing.T) {
	var got []time.Duration
	for tries := range 40 {
		got = append(got, backoff(tries))
	}
	if got[0] != 100*time.Millisecond || !slices.IsSorted(got) || got[len(got)-1] != maxRetryBackoff {
		t.Fatalf("backoff %v", got)
	}
}
