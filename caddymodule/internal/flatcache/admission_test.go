package flatcache

import (
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Workload of the scan tests: requests for keys of a Zipf distribution
// (s = 1.1) over zipfKeys keys, into a cache of scanCache entries; the
// scan is one request for a never-seen key after each Zipf request.
const (
	zipfKeys  = 1_000_000
	scanCache = 100_000
	zipfS     = 1.1
)

// zipfNames are the Zipf keys, made once.
var zipfNames = sync.OnceValue(func() []string {
	names := make([]string, zipfKeys)
	for i := range names {
		names[i] = "z" + strconv.Itoa(i)
	}
	return names
})

// hitRate runs the workload: warm Zipf requests, then measured ones (each
// followed by a scan request when scan is set), every miss filling the
// cache as the edge does. It returns the share of measured Zipf requests
// that hit. The same seed gives every configuration the same requests.
func hitRate(admission, scan bool, warm, measured int) float64 {
	c := New(Config[val]{
		MaxEntries: scanCache, Admission: admission,
		Lifetime: func(*val, string, int64) time.Duration { return time.Hour },
	})
	names := zipfNames()
	z := rand.NewZipf(rand.New(rand.NewPCG(11, 12)), zipfS, 1, zipfKeys-1)
	get := func(k string) bool {
		if _, _, ok := c.Get(k); ok {
			return true
		}
		c.Set(k, val{}, "https://example.com/landing/page/"+k)
		return false
	}
	for range warm {
		get(names[z.Uint64()])
	}
	hits := 0
	for i := range measured {
		if get(names[z.Uint64()]) {
			hits++
		}
		if scan {
			get("scan" + strconv.Itoa(i))
		}
	}
	return float64(hits) / float64(measured)
}

// scanRates are the hit rates of the four configurations, measured once
// for the test and the benchmark alike.
type scanRates struct{ plain, plainScan, admit, admitScan float64 }

func measureScanRates(warm, measured int) scanRates {
	var r scanRates
	var wg sync.WaitGroup
	for _, c := range []struct {
		dst             *float64
		admission, scan bool
	}{{&r.plain, false, false}, {&r.plainScan, false, true}, {&r.admit, true, false}, {&r.admitScan, true, true}} {
		wg.Go(func() { *c.dst = hitRate(c.admission, c.scan, warm, measured) })
	}
	wg.Wait()
	return r
}

func (r scanRates) String() string {
	return fmt.Sprintf("Zipf s=%.1f over %d keys, cache %d; hot-set hit rate without scan / with a one-off key after every request:\n"+
		"  CLOCK only:           %.1f%% / %.1f%% (%+.1f points)\n"+
		"  CLOCK with admission: %.1f%% / %.1f%% (%+.1f points)",
		zipfS, zipfKeys, scanCache,
		100*r.plain, 100*r.plainScan, 100*(r.plainScan-r.plain),
		100*r.admit, 100*r.admitScan, 100*(r.admitScan-r.admit))
}

// A scan of one-off keys, as many as the hot requests, pushes the hot set
// out of a CLOCK cache but not out of one with admission.
func TestScanResistance(t *testing.T) {
	t.Parallel()
	r := measureScanRates(1_000_000, 500_000)
	t.Log(r)
	if drop := r.plain - r.plainScan; drop < 0.05 {
		t.Errorf("without admission the scan costs %.1f points; the test expects it to hurt (> 5)", 100*drop)
	}
	if drop := r.admit - r.admitScan; drop > 0.03 {
		t.Errorf("with admission the scan costs %.1f points, want <= 3", 100*drop)
	}
	if r.admit < r.plain-0.02 {
		t.Errorf("admission alone lowers the hit rate: %.1f%% vs %.1f%%", 100*r.admit, 100*r.plain)
	}
}

// BenchmarkScanHitRate reports the four hit rates of TestScanResistance
// (in percent) as metrics: `go test -run '^$' -bench ScanHitRate`.
func BenchmarkScanHitRate(b *testing.B) {
	var r scanRates
	for b.Loop() {
		r = measureScanRates(1_000_000, 500_000)
	}
	b.ReportMetric(100*r.plain, "%hit-clock")
	b.ReportMetric(100*r.plainScan, "%hit-clock-scan")
	b.ReportMetric(100*r.admit, "%hit-admission")
	b.ReportMetric(100*r.admitScan, "%hit-admission-scan")
	b.Log(r)
}

// A full cache with admission keeps a key seen once out (its count ties
// with the victim's) and lets it in on its second miss; without
// admission the first miss evicts.
func TestAdmissionSecondMiss(t *testing.T) {
	t.Parallel()
	for _, admission := range []bool{false, true} {
		c := New(Config[val]{MaxEntries: 16, Shards: 1, Admission: admission,
			Lifetime: func(*val, string, int64) time.Duration { return time.Hour }})
		for i := range 16 {
			c.Set("k"+strconv.Itoa(i), val{id: int64(i)}, "")
		}
		// A key the sketch has not seen: in a sketch this small another
		// key's counters can stand in for all of its own (the seed is
		// random), and such a key is rightly let in at once.
		key := "new"
		for i := 0; c.shards[0].admit.table != nil && c.shards[0].admit.estimate(maphash.String(c.seed, key)) != 0; i++ {
			key = "new" + strconv.Itoa(i)
		}
		c.Set(key, val{}, "")
		_, _, first := c.Peek(key)
		c.Set(key, val{}, "")
		_, _, second := c.Peek(key)
		if admission {
			if first || !second || c.Rejections() != 1 || c.Evictions() != 1 {
				t.Errorf("admission: cached after one miss %v, after two %v, rejections %d, evictions %d; want false, true, 1, 1",
					first, second, c.Rejections(), c.Evictions())
			}
		} else if !first || c.Rejections() != 0 {
			t.Errorf("no admission: cached after one miss %v, rejections %d", first, c.Rejections())
		}
		if c.Len() != 16 {
			t.Errorf("admission %v: Len %d, want 16", admission, c.Len())
		}
	}
}
