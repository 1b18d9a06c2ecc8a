package caddymodule

import (
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/shortify/shortify/internal/linkevents"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/testenv"
)

// collectedUntil runs the garbage collector until the arena holds at most
// want chunks (cleanups run on a goroutine of their own, after a cycle).
func collectedUntil(t *testing.T, a *stringArena, want int64) {
	t.Helper()
	testenv.WaitFor(t, "the arena's unused chunks collected", 10*time.Second, func() bool {
		runtime.GC()
		return a.stats().chunks <= want
	})
}

// TestStringArenaTurnover: strings interned from several goroutines at
// once fill many small chunks; they keep their bytes through collections,
// share no memory with their source, and once most of them are dropped the
// chunks that no string uses any more are freed, while those that hold a
// kept string stay (the kept strings are still intact).
func TestStringArenaTurnover(t *testing.T) {
	a := newStringArena(512, nil)
	const workers, each = 8, 2000
	got := make([][]string, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				src := []byte("https://example.com/" + strconv.Itoa(w) + "/" + strconv.Itoa(i))
				s := a.intern(string(src))
				clear(src) // a copy: changing the source changes nothing
				got[w] = append(got[w], s)
			}
		})
	}
	wg.Wait()
	want := func(w, i int) string { return "https://example.com/" + strconv.Itoa(w) + "/" + strconv.Itoa(i) }
	runtime.GC()
	for w := range workers {
		for i, s := range got[w] {
			if s != want(w, i) {
				t.Fatalf("string %d/%d = %q, want %q", w, i, s, want(w, i))
			}
		}
	}
	full := a.stats().chunks
	if full < workers*each*20/512 {
		t.Fatalf("%d chunks for %d strings of about 25 bytes in 512-byte chunks", full, workers*each)
	}

	// Keep one string in 1000: about 16 chunks stay, the rest go.
	var kept []string
	var keptWant []string
	for w := range workers {
		for i := 0; i < each; i += 1000 {
			kept, keptWant = append(kept, got[w][i]), append(keptWant, want(w, i))
		}
	}
	got = nil
	collectedUntil(t, a, int64(len(kept))+1) // +1: the chunk being filled
	for i, s := range kept {
		if s != keptWant[i] {
			t.Fatalf("kept string %d = %q, want %q", i, s, keptWant[i])
		}
	}
	if n := a.stats().chunks; n < 2 {
		t.Fatalf("%d chunks left while %d strings in different chunks live", n, len(kept))
	}
	runtime.KeepAlive(kept)

	if s := a.intern(""); s != "" {
		t.Fatalf("intern(\"\") = %q", s)
	}
	long := strings.Repeat("x", 512/arenaLongString+1)
	if s := a.intern(long); s != long || unsafe.StringData(s) == unsafe.StringData(long) {
		t.Fatal("a long string is not copied to the heap")
	}
}

// TestStringArenaBound: with the cache holding few entries, the arena
// stops growing at its bound and copies further strings to the heap, which
// stay correct; once collected chunks make room it fills chunks again.
func TestStringArenaBound(t *testing.T) {
	const chunk = 1024
	a := newStringArena(chunk, func() int { return 10 })
	var keep []string
	for i := range 2000 {
		s := "https://example.com/" + strconv.Itoa(i)
		if got := a.intern(s); got != s {
			t.Fatalf("intern(%q) = %q", s, got)
		}
		keep = append(keep, a.intern(s))
	}
	st := a.stats()
	// 10 entries of up to two ~23-byte strings: maxArenaFactor times
	// that is one chunk, plus the slack and the chunk being filled.
	if maxChunks := int64(arenaSlackChunks + maxArenaFactor*10*2*26/chunk + 2); st.chunks > maxChunks {
		t.Fatalf("%d chunks, want at most %d", st.chunks, maxChunks)
	}
	if st.overflow == 0 {
		t.Fatal("no string went to the heap past the bound")
	}
	for i, s := range keep {
		if want := "https://example.com/" + strconv.Itoa(i); s != want {
			t.Fatalf("string %d = %q, want %q", i, s, want)
		}
	}
	keep = nil
	collectedUntil(t, a, 1)
	before := a.stats().overflow
	a.intern(strings.Repeat("y", chunk/arenaLongString))
	if a.stats().overflow != before {
		t.Fatal("the arena stayed closed after its chunks were collected")
	}
}

// TestL1StringsThroughTurnover: links loaded by many requests at once go
// into the L1 with their key and URL in small chunks, updated and deleted
// by link events (applied as the invalidator does), and every answer stays
// right through garbage collections and chunk turnover.
func TestL1StringsThroughTurnover(t *testing.T) {
	dsn := sqliteDSN(t)
	const links = 300
	codes := make([]string, links)
	var all []linkstore.Link
	for i := range codes {
		codes[i] = newCode(t, "arena")
		all = append(all, linkstore.Link{Code: codes[i], URL: "https://example.com/" + codes[i], Status: 302})
	}
	create(t, seeder(t, dsn), all...)
	h := provision(t, &Handler{Database: dsn})
	h.strs = newStringArena(1024, h.l1.EstimatedSize) // many chunks
	target := &otterL1{l1: h.l1, strs: h.strs, now: nowFunc(nil)}

	updated := false // whether every third code has its updated URL
	check := func(stage string) {
		var wg sync.WaitGroup
		for w := range 6 {
			wg.Go(func() {
				for i := w; i < links; i += 2 {
					code, loc := answer(t, h, codes[i])
					want := "https://example.com/" + codes[i]
					if i%3 == 0 && updated {
						want = "https://example.com/updated/" + codes[i]
					}
					if code != 302 || loc != want {
						t.Errorf("%s: GET /%s = %d %q, want 302 %q", stage, codes[i], code, loc, want)
					}
				}
			})
		}
		wg.Wait()
		runtime.GC()
	}
	check("first loads, concurrent")
	// Update every third code with a URL from a buffer that is then
	// overwritten: the L1 must hold its own copy.
	for i := 0; i < links; i += 3 {
		buf := []byte("https://example.com/updated/" + codes[i])
		url := unsafe.String(unsafe.SliceData(buf), len(buf))
		target.apply(codes[i], linkevents.Event{Type: linkevents.Updated, LinkID: 1,
			State: linkevents.State{URL: url, Status: 302}})
		clear(buf)
	}
	updated = true
	check("after updates")
	// Deleted codes leave the L1 (the store still has them, so the next
	// request loads them again, into a newer chunk).
	for i := 1; i < links; i += 3 {
		target.apply(codes[i], linkevents.Event{Type: linkevents.Deleted})
		if _, ok := h.l1.GetIfPresent(codes[i]); ok {
			t.Fatalf("%s still in L1 after its deletion event", codes[i])
		}
	}
	check("after deletions and reloads")
	// Everything out of L1: the chunks empty out and are freed, and the
	// reloads fill new ones.
	h.l1.InvalidateAll()
	h.l1.CleanUp()
	updated = false // reloaded from the store, which the events did not change
	collectedUntil(t, h.strs, 1)
	check("after every chunk was freed")
	if h.strs.stats().chunks < 2 {
		t.Fatalf("%d chunks for %d links in 1 KiB chunks", h.strs.stats().chunks, links)
	}
}
