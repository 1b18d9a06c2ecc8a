package invalidation

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shortify/shortify/internal/linkevents"
	"github.com/shortify/shortify/internal/linkevents/producer"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/testkit/kafkatest"
)

const topic = "shortify.link-events.test"

// waitTimeout bounds every wait; it only runs out when something is
// broken. The latency bounds the tests assert are separate and tight.
const waitTimeout = 30 * time.Second

var quiet = slog.New(slog.DiscardHandler)

// seen is one call of the evict function.
type seen struct {
	code string
	e    linkevents.Event
	at   time.Time
}

// recorder is an evict function that remembers its calls; codes listed in
// fail make it return an error.
type recorder struct {
	mu   sync.Mutex
	got  []seen
	fail map[string]bool
}

func (r *recorder) evict(_ context.Context, code string, e linkevents.Event) error {
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, seen{code: code, e: e, at: now})
	if r.fail[code] {
		return fmt.Errorf("evict %s: refused by the test", code)
	}
	return nil
}

// calls returns a copy of the calls so far.
func (r *recorder) calls() []seen {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// find returns the first call for code.
func (r *recorder) find(code string) (seen, bool) {
	for _, s := range r.calls() {
		if s.code == code {
			return s, true
		}
	}
	return seen{}, false
}

// waitEvicted waits until code was evicted and returns the call.
func (r *recorder) waitEvicted(t *testing.T, code string) seen {
	t.Helper()
	var s seen
	waitFor(t, "the eviction of "+code, func() bool {
		var ok bool
		s, ok = r.find(code)
		return ok
	})
	return s
}

// startConsumer starts a consumer of k's topic into r, closed when the
// test ends; cfg's brokers, topic, evict function and logger are filled in.
func startConsumer(t *testing.T, k *kafkatest.Broker, r *recorder, cfg Config) *Consumer {
	t.Helper()
	cfg.Brokers = []string{k.Addr()}
	cfg.Topic = topic
	cfg.Evict = r.evict
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// waitConnected waits until c reports itself connected.
func waitConnected(t *testing.T, c *Consumer) {
	t.Helper()
	waitFor(t, "the consumer connected", func() bool { return c.Stats().Connected })
}

// newProducer returns the control plane's link-events producer on k,
// closed when the test ends.
func newProducer(t *testing.T, k *kafkatest.Broker) *producer.Producer {
	t.Helper()
	p, err := producer.New(producer.Config{Brokers: []string{k.Addr()}, Topic: topic, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// rawClient returns a plain client on k that produces to the partition
// each record names, closed when the test ends.
func rawClient(t *testing.T, k *kafkatest.Broker) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.Addr()), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// update returns an updated event of code, timed now, whose URL carries
// seq.
func update(code string, seq int) linkevents.Event {
	l := linkstore.Link{ID: 1000 + int64(seq), Code: code, URL: fmt.Sprintf("https://example.com/%s/%d", code, seq)}
	return linkevents.NewUpdated(l, time.Now())
}

// waitFor polls cond until it holds, failing the test after waitTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if !poll(waitTimeout, cond) {
		t.Fatalf("timed out waiting for %s", what)
	}
}

// poll polls cond every millisecond until it holds (true) or timeout
// passes (false).
func poll(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		<-tick.C
	}
	return true
}

// noLeftGoroutines fails when a franz-go client goroutine or a consumer
// loop is still running once every client of the test is closed. A
// goroutine on its way out may take a moment to return.
func noLeftGoroutines(t *testing.T) {
	t.Helper()
	var left string
	ok := poll(5*time.Second, func() bool {
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		left = ""
		for g := range strings.SplitSeq(stacks, "\n\n") {
			if strings.Contains(g, "franz-go/pkg/kgo.") || strings.Contains(g, "invalidation.(*Consumer)") {
				left += g + "\n\n"
			}
		}
		return left == ""
	})
	if !ok {
		t.Fatalf("goroutines left after Close:\n%s", left)
	}
}
