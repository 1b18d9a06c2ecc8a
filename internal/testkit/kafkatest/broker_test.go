package kafkatest

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestBrokerRestart: a restarted broker answers on the same address with
// the topics and records it had.
func TestBrokerRestart(t *testing.T) {
	b := StartBroker(t, 2, "t1")
	addr := b.Addr()
	Produce(t, addr, "t1", &kgo.Record{Key: []byte("k"), Value: []byte("before")})
	b.Stop()
	if b.Cluster() != nil {
		t.Fatal("a stopped broker still has a cluster")
	}
	b.Stop() // stopping twice is harmless
	b.Restart()
	if b.Addr() != addr {
		t.Fatalf("address %s after the restart, was %s", b.Addr(), addr)
	}
	Produce(t, addr, "t1", &kgo.Record{Key: []byte("k"), Value: []byte("after")})
	recs := Consume(t, addr, "t1", 2)
	if string(recs[0].Value) != "before" || string(recs[1].Value) != "after" {
		t.Fatalf("records %q, %q", recs[0].Value, recs[1].Value)
	}
	if got := Partitions(t, addr)["t1"]; got != 2 {
		t.Fatalf("t1 has %d partitions after the restart, want 2", got)
	}
}
