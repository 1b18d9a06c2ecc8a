package cluster

import (
	"testing"

	"github.com/shortify/shortify/controlplane/fsm"
)

var sinkCode string

// benchNode is a node whose blocks are large enough that a benchmark,
// taking millions of numbers a second, does not outrun the refills (a
// refill costs a disk sync): the benchmarks measure the steady state, in
// which no caller waits on Raft.
func benchNode(b *testing.B) *Node {
	cfg := testConfig(b)
	cfg.BlockSize = fsm.MaxBlockSize
	return open(b, cfg)
}

func BenchmarkNextCode(b *testing.B) {
	n := benchNode(b)
	for b.Loop() {
		c, err := n.NextCode()
		if err != nil {
			b.Fatal(err)
		}
		sinkCode = c
	}
}

func BenchmarkNextCodeParallel(b *testing.B) { benchParallel(b, (*Node).NextCode) }

// BenchmarkSequencer measures the block bookkeeping alone, without the
// code permutation.
func BenchmarkSequencer(b *testing.B) {
	n := benchNode(b)
	for b.Loop() {
		if _, err := n.seq.next(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSequencerParallel(b *testing.B) {
	benchParallel(b, func(n *Node) (uint64, error) { return n.seq.next() })
}

func BenchmarkNewID(b *testing.B) {
	n := benchNode(b)
	for b.Loop() {
		if _, err := n.NewID(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNewIDParallel(b *testing.B) { benchParallel(b, (*Node).NewID) }

// benchParallel measures fn on a benchNode from GOMAXPROCS goroutines.
func benchParallel[T any](b *testing.B, fn func(n *Node) (T, error)) {
	n := benchNode(b)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := fn(n); err != nil {
				b.Fatal(err)
			}
		}
	})
}
