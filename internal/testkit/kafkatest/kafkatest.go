// Package kafkatest holds test helpers for code that talks to Kafka (the
// in-process broker of package kafkabroker, or kfake): produce and read
// back records, list topics, wait for a condition, check that no client
// goroutine is left.
package kafkatest

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/shortify/shortify/internal/linkevents"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// WaitTimeout bounds every wait of this package; it only runs out when
// something is broken.
const WaitTimeout = 30 * time.Second

// WaitFor polls cond every few milliseconds until it holds, failing the
// test after WaitTimeout.
func WaitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	testenv.WaitFor(tb, what, WaitTimeout, cond)
}

// Produce writes recs to topic at addr and waits for the
// acknowledgements.
func Produce(tb testing.TB, addr, topic string, recs ...*kgo.Record) {
	tb.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic))
	if err != nil {
		tb.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(tb.Context(), WaitTimeout)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		tb.Fatalf("produce to %s: %v", topic, err)
	}
}

// Consume reads topic at addr from the start until it has n records,
// checks that no more follow within a short fetch, and returns them.
func Consume(tb testing.TB, addr, topic string, n int) []*kgo.Record {
	tb.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		tb.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(tb.Context(), WaitTimeout)
	defer cancel()
	var recs []*kgo.Record
	for len(recs) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			tb.Fatalf("consumed %d records of %s, want %d: %v", len(recs), topic, n, ctx.Err())
		}
		fs.EachError(func(_ string, _ int32, err error) { tb.Fatalf("fetch %s: %v", topic, err) })
		recs = append(recs, fs.Records()...)
	}
	short, stop := context.WithTimeout(tb.Context(), 300*time.Millisecond)
	defer stop()
	recs = append(recs, cl.PollFetches(short).Records()...)
	if len(recs) != n {
		tb.Fatalf("consumed %d records of %s, want %d", len(recs), topic, n)
	}
	return recs
}

// ConsumeEvents is Consume of a link-events topic: the n records, each
// decoded (and checked against its key) as a link event.
func ConsumeEvents(tb testing.TB, addr, topic string, n int) []linkevents.Event {
	tb.Helper()
	recs := Consume(tb, addr, topic, n)
	events := make([]linkevents.Event, len(recs))
	for i, r := range recs {
		e, err := linkevents.DecodeRecord(r.Key, r.Value)
		if err != nil {
			tb.Fatalf("record %q: %v", r.Value, err)
		}
		events[i] = e
	}
	return events
}

// Partitions returns the partition count of every topic at addr.
func Partitions(tb testing.TB, addr string) map[string]int {
	tb.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		tb.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(tb.Context(), WaitTimeout)
	defer cancel()
	resp, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl)
	if err != nil {
		tb.Fatalf("metadata of %s: %v", addr, err)
	}
	m := make(map[string]int)
	for _, tp := range resp.Topics {
		if tp.Topic != nil {
			m[*tp.Topic] = len(tp.Partitions)
		}
	}
	return m
}

// NoClientGoroutines waits until no franz-go client goroutine is left in
// the process (so run it only in tests that are not parallel with other
// Kafka tests).
func NoClientGoroutines(tb testing.TB) {
	tb.Helper()
	WaitFor(tb, "the Kafka clients' goroutines to end", func() bool {
		buf := make([]byte, 1<<20)
		for g := range strings.SplitSeq(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
			if strings.Contains(g, "franz-go/pkg/kgo.") {
				return false
			}
		}
		return true
	})
}
