package kafkabroker

import (
	"context"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// waitTimeout bounds every wait; it only runs out when something is
// broken.
const waitTimeout = 30 * time.Second

func start(t *testing.T, cfg Config) *Broker {
	t.Helper()
	b, err := Start(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

// produce writes values v0..v(n-1) to topic, keyed k0..k(n-1), and waits
// for the acknowledgements.
func produce(t *testing.T, addr, topic string, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "v%d", i)})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce to %s: %v", topic, err)
	}
}

// consume reads topic from the start until it has n records, checks that
// no more follow, and returns the values, sorted.
func consume(t *testing.T, addr, topic string, n int) []string {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(t.Context(), waitTimeout)
	defer cancel()
	var vals []string
	for len(vals) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d records of %s, want %d: %v", len(vals), topic, n, ctx.Err())
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch %s: %v", topic, err) })
		fs.EachRecord(func(r *kgo.Record) { vals = append(vals, string(r.Value)) })
	}
	short, stop := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer stop()
	cl.PollFetches(short).EachRecord(func(r *kgo.Record) { vals = append(vals, string(r.Value)) })
	if len(vals) != n {
		t.Fatalf("consumed %d records of %s, want %d", len(vals), topic, n)
	}
	slices.Sort(vals)
	return vals
}

// partitions returns the partition count of each topic the broker has.
func partitions(t *testing.T, addr string) map[string]int {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	resp, err := kmsg.NewPtrMetadataRequest().RequestWith(t.Context(), cl)
	if err != nil {
		t.Fatal(err)
	}
	m := make(map[string]int)
	for _, tp := range resp.Topics {
		m[*tp.Topic] = len(tp.Partitions)
	}
	return m
}

func values(n int) []string {
	var v []string
	for i := range n {
		v = append(v, fmt.Sprintf("v%d", i))
	}
	slices.Sort(v)
	return v
}

// TestRestartKeepsRecords: records survive a restart with the same data
// directory, on the same address; a topic added to the configuration is
// created in the old directory.
func TestRestartKeepsRecords(t *testing.T) {
	dir := t.TempDir()
	b := start(t, Config{Listen: "127.0.0.1:0", DataDir: dir, Partitions: 3})
	addr := b.Addr()
	if got := partitions(t, addr); got["clicks"] != 3 || got["shortify.link-events"] != 3 || len(got) != 2 {
		t.Fatalf("topics %v, want clicks and shortify.link-events with 3 partitions", got)
	}
	produce(t, addr, "clicks", 100)
	produce(t, addr, "shortify.link-events", 7)
	b.Close()
	b.Close() // idempotent

	b = start(t, Config{Listen: addr, DataDir: dir, Topics: append(slices.Clone(DefaultTopics), "extra"), Partitions: 5})
	if got := consume(t, addr, "clicks", 100); !slices.Equal(got, values(100)) {
		t.Fatalf("clicks after restart: %v", got)
	}
	if got := consume(t, addr, "shortify.link-events", 7); !slices.Equal(got, values(7)) {
		t.Fatalf("link events after restart: %v", got)
	}
	if got := partitions(t, addr); got["clicks"] != 3 || got["extra"] != 5 {
		t.Fatalf("topics %v, want clicks with its 3 partitions and extra with 5", got)
	}
	// New records go on from where the old ones ended.
	produce(t, addr, "clicks", 100)
	if got := consume(t, addr, "clicks", 200); len(got) != 200 {
		t.Fatalf("%d records", len(got))
	}
	b.Close()
}

// TestInMemory: without a data directory the broker works and forgets.
func TestInMemory(t *testing.T) {
	b := start(t, Config{Listen: "127.0.0.1:0"})
	produce(t, b.Addr(), "clicks", 3)
	consume(t, b.Addr(), "clicks", 3)
}

func TestStartRefuses(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for name, cfg := range map[string]Config{
		"no port":       {Listen: "127.0.0.1"},
		"address taken": {Listen: busy.Addr().String()},
		"partitions":    {Listen: "127.0.0.1:0", Partitions: -1},
		"data dir":      {Listen: "127.0.0.1:0", DataDir: "/proc/no/such/dir"},
	} {
		if b, err := Start(t.Context(), cfg); err == nil {
			b.Close()
			t.Errorf("%s: no error", name)
		}
	}
}
