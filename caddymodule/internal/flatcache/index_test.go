package flatcache

import (
	"hash/maphash"
	"math/rand/v2"
	"strconv"
	"testing"
)

// checkIndex verifies a shard's index against its slots: every live slot
// is found from its key, every bucket names a live slot whose key has the
// bucket's tag, and the count is right.
func checkIndex(t *testing.T, c *Cache[val], sh *shard[val]) {
	t.Helper()
	live := 0
	for i := range sh.slots {
		sl := &sh.slots[i]
		if sl.deadline == 0 {
			continue
		}
		live++
		k := sh.key(sl)
		if _, j, ok := sh.lookup(maphash.String(c.seed, k), k); !ok || j != uint32(i) {
			t.Fatalf("slot %d (%q): lookup = %d, %v", i, k, j, ok)
		}
	}
	buckets := 0
	for b, e := range sh.table {
		if e == 0 {
			continue
		}
		buckets++
		sl := &sh.slots[uint32(e)-1]
		if sl.deadline == 0 || maphash.String(c.seed, sh.key(sl))&0xffff_ffff != e>>32 {
			t.Fatalf("bucket %d names slot %d, empty or of another tag", b, uint32(e)-1)
		}
	}
	if live != sh.count || buckets != sh.count {
		t.Fatalf("%d live slots, %d buckets, count %d", live, buckets, sh.count)
	}
}

// Sets, deletes and evictions in random order keep the index exact,
// across table growth and backward shifts that wrap around the table.
func TestIndexInvariants(t *testing.T) {
	t.Parallel()
	for _, admission := range []bool{false, true} {
		c, _ := newCache(t, 60, 1)
		if admission {
			c.shards[0].admit = newSketch(60)
		}
		sh := &c.shards[0]
		r := rand.New(rand.NewPCG(5, 6))
		for step := range 20_000 {
			k := "k" + strconv.Itoa(r.IntN(300))
			switch r.IntN(4) {
			case 0:
				c.Delete(k)
			case 1:
				c.Get(k)
			default:
				c.Set(k, val{id: int64(step)}, k)
			}
			checkIndex(t, c, sh)
		}
		if c.Evictions() == 0 {
			t.Fatal("no evictions: the test does not cover them")
		}
	}
}
