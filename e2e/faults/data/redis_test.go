//go:build faults

package data

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/base62"
	"github.com/shortify/shortify/internal/l2cache"
	"github.com/shortify/shortify/internal/testkit/faults"
	"github.com/shortify/shortify/internal/testkit/loadgen"
)

// Fault 4's shape.
const (
	// redisCacheTTL is the edges' cache_ttl (SHORTIFY_CACHE_TTL): a hot
	// code's L1 entry lives 1 s, then up to 16 s as reads extend it
	// (max_ttl is 16 × cache_ttl), so hot entries expire during the test.
	redisCacheTTL = time.Second
	// The hot links and their load; the flood: random codes of no link,
	// drawn from a set of redisFloodCodes, from many clients.
	redisHotLinks, redisHotRate     = 5, 50
	redisFloodCodes, redisFloodRate = 50, 100
	// redisBefore is the load before the kill, redisAfter after the
	// failover.
	redisBefore, redisAfter = 10 * time.Second, 20 * time.Second
	// redisFailoverWithin bounds the replica's promotion (the stack's
	// cluster-node-timeout is 2 s).
	redisFailoverWithin = 30 * time.Second
)

// TestFault04RedisFailoverAndFlood kills (kill -9) the Redis Cluster
// master that holds a hot code's L2 entry while hot codes are redirected
// and a flood of random codes arrives, and lets its replica take over.
// Redirects go on (L2 errors fall through to the database), and the
// database lookups stay bounded, about one per code per TTL: the L1
// loads a code once at a time (single flight) and keeps "no such code"
// for negative_ttl. The edges' own metrics count the lookups every
// second.
func TestFault04RedisFailoverAndFlood(t *testing.T) {
	f := startStack(t, "SHORTIFY_CACHE_TTL="+redisCacheTTL.String())
	ctx := t.Context()
	s := f.s

	hot := f.createMany("https://example.com/fault04/hot/", redisHotLinks)
	taken := map[string]bool{}
	for _, l := range hot {
		taken[l.Code] = true
	}
	flood := make([]string, 0, redisFloodCodes)
	for len(flood) < redisFloodCodes {
		b := make([]byte, 6)
		for i := range b {
			b[i] = base62.Alphabet[rand.IntN(len(base62.Alphabet))]
		}
		if c := string(b); !taken[c] {
			taken[c] = true
			flood = append(flood, c)
		}
	}

	samples := f.sampleLookups(ctx)
	var fails timeLog
	hotLoad := f.redirectLoad(redisHotRate, http.StatusFound, anyOf(hot), &fails)
	floodLoad := f.redirectLoad(redisFloodRate, http.StatusNotFound, func(int) (string, string, bool) {
		return flood[rand.IntN(len(flood))], "", true
	}, &fails)
	loads := []*loadgen.Load{hotLoad, floodLoad}
	defer func() {
		for _, l := range loads {
			l.Stop()
		}
	}()
	began := time.Now()
	hold(t, redisBefore)
	before := [2]loadgen.Stats{hotLoad.Window(), floodLoad.Window()}

	key := l2cache.DefaultPrefix + hot[0].Code
	victim, err := s.RedisMasterOf(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	s.Redis.Servers[victim].Kill()
	t.Logf("killed the Redis master %s (it holds %s)", s.Redis.Addrs[victim], key)
	wctx, cancel := context.WithTimeout(ctx, redisFailoverWithin)
	promoted, err := s.WaitRedisFailover(wctx, key)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	failedOver := time.Now()
	t.Logf("%s took over after %v", s.Redis.Addrs[promoted], failedOver.Sub(killed).Round(time.Millisecond))
	hold(t, redisAfter)
	during := [2]loadgen.Stats{hotLoad.Window(), floodLoad.Window()}
	for _, l := range loads {
		l.Stop()
	}
	loads = nil
	ended := time.Now()
	series := samples.stop()
	for i, w := range [][2]loadgen.Stats{before, during} {
		t.Logf("%s: hot %s", []string{"before", "during and after"}[i], w[0])
		t.Logf("%s: flood %s", []string{"before", "during and after"}[i], w[1])
	}

	// Redirects served throughout: the hot codes redirect, the flood's
	// codes answer 404, nothing else.
	for i, w := range [][2]loadgen.Stats{before, during} {
		for j, st := range w {
			if st.Failures != 0 {
				t.Errorf("%s, %s: %d of %d failed: %v", []string{"before", "during"}[i], []string{"hot", "flood"}[j], st.Failures, st.Requests, st.Outcomes)
			}
		}
	}
	errWindow, nFails := fails.window()

	// Database lookups, from the edges' metrics.
	if len(series) < 2 {
		t.Fatalf("%d metric samples", len(series))
	}
	first, last := series[0], series[len(series)-1]
	var peak float64
	var peakAt time.Time
	for i := 1; i < len(series); i++ {
		d := series[i].at.Sub(series[i-1].at).Seconds()
		if q := (series[i].lookups - series[i-1].lookups) / d; q > peak {
			peak, peakAt = q, series[i].at
		}
	}
	hotLookups := last.hits - first.hits
	floodLookups := last.misses - first.misses
	l2Errors := last.l2Errors - first.l2Errors
	failoverHits := hitsBetween(series, killed, failedOver.Add(2*time.Second))
	span := last.at.Sub(first.at)
	edges := float64(len(s.Edges))
	// One per code per TTL on each edge, plus the first: for the flood
	// the negative entry's negative_ttl, for the hot codes their
	// shortest L1 lifetime (and the L2 serves most of those).
	floodBound := edges * redisFloodCodes * (span.Seconds()/negativeTTL.Seconds() + 1)
	hotBound := edges * redisHotLinks * (span.Seconds()/redisCacheTTL.Seconds() + 1)
	requests := float64(before[0].Requests + before[1].Requests + during[0].Requests + during[1].Requests)
	t.Logf("over %v: %.0f requests; database lookups: %.0f for the flood (bound %.0f), %.0f for hot codes (bound %.0f; %.0f while Redis failed over); peak %.0f lookups/s at +%v; %.0f L2 errors; %d failed redirects over %v",
		span.Round(time.Millisecond), requests, floodLookups, floodBound, hotLookups, hotBound, failoverHits, peak, peakAt.Sub(began).Round(time.Second), l2Errors, nFails, errWindow)
	if floodLookups > floodBound {
		t.Errorf("the flood cost %.0f database lookups, more than one per code per negative_ttl on each edge (%.0f)", floodLookups, floodBound)
	}
	if hotLookups > hotBound {
		t.Errorf("the hot codes cost %.0f database lookups, more than one per code per cache_ttl on each edge (%.0f)", hotLookups, hotBound)
	}
	if l2Errors == 0 {
		t.Errorf("no L2 error: the edges did not notice the Redis master's death")
	}
	// Recovered: every edge reads the hot codes from Redis again.
	f.followAll(hot)
	f.checkNoRestart()

	faults.Record(t, faults.Row{
		Fault: fmt.Sprintf("Redis Cluster master kill -9 (replica promoted after %.1f s) while %d hot codes (cache_ttl %v) take %d redirects/s and a flood of %d random codes %d/s, from many clients, over %.0f s",
			failedOver.Sub(killed).Seconds(), redisHotLinks, redisCacheTTL, redisHotRate, redisFloodCodes, redisFloodRate, ended.Sub(began).Seconds()),
		Expected: "database lookups ≤ one per code per TTL on each edge; 0 failed redirects",
		Measured: fmt.Sprintf("peak %.0f database lookups/s (at %.0f requests/s); flood %.0f lookups for %d requests (bound %.0f), hot %.0f (bound %.0f, %.0f while Redis failed over); %.0f L2 errors; %d failed redirects, error window %.1f s",
			peak, float64(redisHotRate+redisFloodRate), floodLookups, before[1].Requests+during[1].Requests, floodBound, hotLookups, hotBound, failoverHits, l2Errors, nFails, errWindow.Seconds()),
	})
}

// lookupSample is the edges' lookup counters at one moment.
type lookupSample struct {
	at                              time.Time
	lookups, hits, misses, l2Errors float64
}

// hitsBetween is how many links the edges loaded from the database
// between from and to (the samples around them).
func hitsBetween(series []lookupSample, from, to time.Time) float64 {
	var a, b *lookupSample
	for i := range series {
		if a == nil && !series[i].at.Before(from) && i > 0 {
			a = &series[i-1]
		}
		if !series[i].at.Before(to) {
			b = &series[i]
			break
		}
	}
	if a == nil || b == nil {
		return 0
	}
	return b.hits - a.hits
}

// sampler reads the edges' lookup counters every second.
type sampler struct {
	stopOnce sync.Once
	cancel   context.CancelFunc
	done     chan struct{}
	series   []lookupSample
}

// sampleLookups starts reading the edges' counters of database lookups
// (shortify_edge_lookup_duration_seconds{tier="store"}, every load that
// reached the link store), found and not found links, and L2 errors,
// once a second until stop.
func (f *fixture) sampleLookups(ctx context.Context) *sampler {
	ctx, cancel := context.WithCancel(ctx)
	sm := &sampler{cancel: cancel, done: make(chan struct{})}
	read := func() {
		var v lookupSample
		var err error
		v.at = time.Now()
		for _, m := range []struct {
			dst    *float64
			series string
		}{
			{&v.lookups, `shortify_edge_lookup_duration_seconds_count{tier="store"}`},
			{&v.hits, `shortify_edge_cache_requests_total{result="hit",tier="store"}`},
			{&v.misses, `shortify_edge_cache_requests_total{result="miss",tier="store"}`},
			{&v.l2Errors, `shortify_edge_l2_errors_total`},
		} {
			if *m.dst, err = f.edgesMetric(ctx, m.series); err != nil {
				if ctx.Err() == nil {
					f.t.Logf("sample the edges' metrics: %v", err)
				}
				return
			}
		}
		sm.series = append(sm.series, v)
	}
	go func() {
		defer close(sm.done)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			read()
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return sm
}

// stop ends the sampling (after one last sample) and returns the series.
func (sm *sampler) stop() []lookupSample {
	sm.stopOnce.Do(func() {
		sm.cancel()
		<-sm.done
	})
	return sm.series
}
