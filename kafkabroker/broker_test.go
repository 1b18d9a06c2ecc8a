package kafkabroker

import (
	"fmt"
	"net"
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shortify/shortify/internal/testkit/kafkatest"
)

func start(t *testing.T, cfg Config) *Broker {
	t.Helper()
	b, err := Start(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

// produce writes values v0..v(n-1) to topic, keyed k0..k(n-1).
func produce(t *testing.T, addr, topic string, n int) {
	t.Helper()
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "v%d", i)})
	}
	kafkatest.Produce(t, addr, topic, recs...)
}

// consume reads the n records of topic and returns their values, sorted.
func consume(t *testing.T, addr, topic string, n int) []string {
	t.Helper()
	var vals []string
	for _, r := range kafkatest.Consume(t, addr, topic, n) {
		vals = append(vals, string(r.Value))
	}
	slices.Sort(vals)
	return vals
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
	if got := kafkatest.Partitions(t, addr); got["clicks"] != 3 || got["shortify.link-events"] != 3 || len(got) != 2 {
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
	if got := kafkatest.Partitions(t, addr); got["clicks"] != 3 || got["extra"] != 5 {
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
