package kafkaprod_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shortify/shortify/internal/kafkaprod"
	"github.com/shortify/shortify/internal/kafkasec"
)

// TestCodecs checks that every name ends in no compression (which every
// broker takes) and that an unknown name is refused with the choices.
func TestCodecs(t *testing.T) {
	for _, name := range []string{"zstd", "lz4", "snappy", "gzip", "none"} {
		c, err := kafkaprod.Codecs(name)
		if err != nil || len(c) == 0 {
			t.Fatalf("Codecs(%q) = %v, %v", name, c, err)
		}
	}
	if _, err := kafkaprod.Codecs("brotli"); err == nil || !strings.Contains(err.Error(), "want zstd, lz4") {
		t.Fatalf("Codecs(brotli) error = %v", err)
	}
	if _, err := kafkaprod.NewClient(kafkaprod.Config{Brokers: []string{"x:1"}, Compression: "brotli"}); err == nil {
		t.Fatal("NewClient took an unknown compression")
	}
	bad := kafkasec.Config{SASLMechanism: "PLAIN", User: "u", Password: "p"}
	if _, err := kafkaprod.NewClient(kafkaprod.Config{Brokers: []string{"x:1"}, Security: bad}); err == nil {
		t.Fatal("NewClient took PLAIN without TLS")
	}
}

// TestKeyedPartitioning produces records of two keys to the default
// topic and checks that each key's records share one partition, in
// order: the rule both event topics rely on.
func TestKeyedPartitioning(t *testing.T) {
	const topic = "events"
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(8, topic))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cl, err := kafkaprod.NewClient(kafkaprod.Config{Brokers: c.ListenAddrs(), ClientID: "test",
		Topic: topic, Linger: -1, RecordTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	partition := map[string]int32{}
	for i := range 20 {
		key := []string{"abc123", "zz9"}[i%2]
		r, err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte(key), Value: []byte{byte(i)}}).First()
		if err != nil {
			t.Fatal(err)
		}
		if r.Topic != topic {
			t.Fatalf("record went to %q, want the default topic %q", r.Topic, topic)
		}
		if p, ok := partition[key]; ok && p != r.Partition {
			t.Fatalf("key %s in partitions %d and %d", key, p, r.Partition)
		}
		partition[key] = r.Partition
	}
}
