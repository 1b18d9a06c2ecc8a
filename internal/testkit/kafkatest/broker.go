package kafkatest

import (
	"net"
	"strconv"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Broker is a one-broker kfake Kafka that a test can stop and start again
// on the same port with the same data directory: a broker restart, for
// tests of what clients do while Kafka is away.
type Broker struct {
	tb   testing.TB
	dir  string
	port int
	addr string
	c    *kfake.Cluster
}

// StartBroker starts a broker with topics of the given number of
// partitions; it is stopped when the test ends.
func StartBroker(tb testing.TB, partitions int32, topics ...string) *Broker {
	tb.Helper()
	b := &Broker{tb: tb, dir: tb.TempDir()}
	b.open(kfake.SeedTopics(partitions, topics...))
	b.addr = b.c.ListenAddrs()[0]
	_, port, err := net.SplitHostPort(b.addr)
	if err != nil {
		tb.Fatal(err)
	}
	b.port, _ = strconv.Atoi(port)
	tb.Cleanup(b.Stop)
	return b
}

// Restart starts the stopped broker again: same port, same topics and
// records (kept in its data directory).
func (b *Broker) Restart() {
	b.tb.Helper()
	b.open(kfake.Ports(b.port))
}

func (b *Broker) open(opt kfake.Opt) {
	b.tb.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DataDir(b.dir), opt)
	if err != nil {
		b.tb.Fatalf("start kfake: %v", err)
	}
	b.c = c
}

// Stop stops the broker; clients see connections refused until Restart.
// Stopping a stopped broker does nothing.
func (b *Broker) Stop() {
	if b.c != nil {
		b.c.Close()
		b.c = nil
	}
}

// Addr is the broker's host:port; it stays the same across restarts.
func (b *Broker) Addr() string { return b.addr }

// Cluster is the running kfake cluster (nil while stopped), for its
// control functions.
func (b *Broker) Cluster() *kfake.Cluster { return b.c }
