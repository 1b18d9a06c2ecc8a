package caddymodule

import (
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"
)

// The strings of the L1 (each entry's key, the code, and its URL) are
// copied into large append-only chunks rather than allocated one by one
// (DESIGN.md: a million cached entries full of pointers cost garbage
// collection time that shows in p99). An entry then costs the garbage
// collector one heap object, otter's node, instead of three (node, code,
// URL), and the node's two string pointers all point into a few dozen
// large objects whose mark bits stay in the CPU cache
// (BenchmarkServeHTTP_L1HitFullCache reports the objects and bytes per
// entry and the CPU time of one collection).
//
// Safety: a string made by intern points at bytes that are written once,
// before the string exists, and never again (later strings go after them),
// so it is as immutable as any Go string. The chunk is an ordinary heap
// object: the garbage collector keeps it while any string points into it
// and frees it with the last one, so there is no reuse and no explicit
// freeing. Every found link's entry is loaded again within max_ttl (and an
// unknown code's within negative_ttl), each time into the chunk being
// filled at that moment, so a chunk empties out at most max_ttl after it
// was filled.
//
// Memory bound: a chunk stays whole while one string in it lives, so a
// cache that churns (codes evicted by size long before max_ttl, next to a
// few hot ones that stay) could keep many nearly empty chunks. The arena
// therefore holds at most maxArenaFactor times the bytes of the strings
// the L1 holds (estimated from its entry count and the average string
// length) plus arenaSlackChunks chunks; past that, strings are copied to
// the heap one by one, as before, until collected chunks make room. In the
// steady state of a warm cache the arena holds the live strings plus what
// was loaded within the last max_ttl.

// Sizes of the arena.
const (
	// arenaChunkSize is the size of one chunk: about 20,000 entries of a
	// 45-byte URL and a 7-byte code.
	arenaChunkSize = 1 << 20
	// arenaLongString: a string longer than 1/arenaLongString of a chunk
	// (rare: URLs are mostly short) goes to the heap on its own, so that
	// no chunk is started, nor its end wasted, for one string.
	arenaLongString = 16
	// maxArenaFactor bounds the arena's chunks to this many times the
	// bytes of the strings the cache holds...
	maxArenaFactor = 2
	// arenaSlackChunks ...plus this many chunks, so that a small or
	// cold cache still uses the arena.
	arenaSlackChunks = 8
)

// stringArena copies strings into append-only chunks. It is safe for
// concurrent use; only the misses of the L1 (loads, invalidations) call it.
type stringArena struct {
	chunkSize int
	// liveEntries estimates the entries that hold strings (the L1's
	// EstimatedSize), for the memory bound; nil means no bound.
	liveEntries func() int

	mu       sync.Mutex
	chunk    []byte // the chunk being filled: len is what is used
	interned int64  // strings copied into chunks, ever
	bytes    int64  // their bytes

	chunks   atomic.Int64  // chunks allocated and not yet collected
	overflow atomic.Uint64 // strings copied to the heap because of the bound
}

// newStringArena returns an arena of chunks of chunkSize bytes, bounded
// by liveEntries (nil: unbounded).
func newStringArena(chunkSize int, liveEntries func() int) *stringArena {
	return &stringArena{chunkSize: chunkSize, liveEntries: liveEntries}
}

// intern returns a string equal to s whose bytes are in a chunk (or on
// the heap, for a long s or when the arena is at its bound). The result
// never shares memory with s, so it does not keep alive whatever buffer s
// is a slice of (a request's URL, a decoded Redis value).
func (a *stringArena) intern(s string) string {
	if s == "" {
		return ""
	}
	if a == nil || len(s) > a.chunkSize/arenaLongString {
		return strings.Clone(s)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if cap(a.chunk)-len(a.chunk) < len(s) {
		if !a.mayGrowLocked() {
			a.overflow.Add(1)
			return strings.Clone(s)
		}
		a.chunk = a.newChunk()
	}
	off := len(a.chunk)
	a.chunk = append(a.chunk, s...)
	a.interned++
	a.bytes += int64(len(s))
	return unsafe.String(&a.chunk[off], len(s))
}

// mayGrowLocked reports whether another chunk stays within the bound.
func (a *stringArena) mayGrowLocked() bool {
	n := a.chunks.Load()
	if a.liveEntries == nil || n < arenaSlackChunks || a.interned == 0 {
		return true
	}
	// Bytes per entry: every entry holds a code, and a found link a URL
	// too; bytes/interned per string, so up to two strings an entry.
	live := int64(a.liveEntries()) * 2 * a.bytes / a.interned
	return (n-arenaSlackChunks)*int64(a.chunkSize) < maxArenaFactor*live
}

// newChunk allocates a chunk and counts it until the garbage collector
// frees it.
func (a *stringArena) newChunk() []byte {
	c := make([]byte, 0, a.chunkSize)
	a.chunks.Add(1)
	runtime.AddCleanup(unsafe.SliceData(c), func(n *atomic.Int64) { n.Add(-1) }, &a.chunks)
	return c
}

// arenaStats are an arena's counts, for tests and benchmarks.
type arenaStats struct {
	chunks   int64  // chunks allocated and not yet collected
	overflow uint64 // strings sent to the heap by the bound
}

func (a *stringArena) stats() arenaStats {
	return arenaStats{chunks: a.chunks.Load(), overflow: a.overflow.Load()}
}
