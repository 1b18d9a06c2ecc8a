//go:build faults

package data

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/testkit/faults"
	"github.com/shortify/shortify/internal/testkit/stack"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// Fault 3's shape.
const (
	// replicaDelay is how far behind the replica applies transactions.
	replicaDelay = 30 * time.Second
	// replicaRun is how long creators create and read back.
	replicaRun = 40 * time.Second
	// replicaCreators create and read back side by side.
	replicaCreators = 4
	// negativeTTL is the edge's negative_ttl (its default, which
	// edge.Caddyfile keeps): how long an L1 keeps "no such code".
	negativeTTL = 5 * time.Second
)

// The edge's counters that tell a 404 answered from a negative L1 entry:
// one more not_found answer and one more L1 hit, no L1 miss.
const (
	seriesNotFound = `shortify_edge_requests_total{outcome="not_found"}`
	seriesL1Hit    = `shortify_edge_cache_requests_total{result="hit",tier="l1"}`
	seriesL1Miss   = `shortify_edge_cache_requests_total{result="miss",tier="l1"}`
)

// edgeGates serialise an edge's requests for the moment the test reads
// its counters around one request (negativeHit): every other request to
// that edge holds the read side, so that the counters' deltas are that
// request's alone.
type edgeGates []sync.RWMutex

// redirect is fixture.redirect to edge i, holding its gate's read side.
func (g edgeGates) redirect(ctx context.Context, f *fixture, i int, code, client string) (int, string, error) {
	g[i].RLock()
	defer g[i].RUnlock()
	return f.redirect(ctx, f.s.Edges[i].URL, code, client)
}

// negativeHit asks edge i for code alone and reports whether the edge
// answered 404 from a negative entry in its L1 (its counters: one more
// not_found, one more L1 hit, no L1 miss), and what it saw otherwise.
func (g edgeGates) negativeHit(ctx context.Context, f *fixture, i int, code, client string) (bool, string) {
	g[i].Lock()
	defer g[i].Unlock()
	e := f.s.Edges[i]
	read := func() ([3]float64, error) {
		var v [3]float64
		for j, s := range []string{seriesNotFound, seriesL1Hit, seriesL1Miss} {
			n, err := f.metric(ctx, e, s)
			if err != nil {
				return v, err
			}
			v[j] = n
		}
		return v, nil
	}
	before, err := read()
	if err != nil {
		return false, err.Error()
	}
	status, _, err := f.redirect(ctx, e.URL, code, client)
	if err != nil || status != http.StatusNotFound {
		return false, fmt.Sprintf("answered %d %v, want 404", status, err)
	}
	after, err := read()
	if err != nil {
		return false, err.Error()
	}
	d := [3]float64{after[0] - before[0], after[1] - before[1], after[2] - before[2]}
	if d != [3]float64{1, 1, 0} {
		return false, fmt.Sprintf("counters moved by not_found %+.0f, L1 hit %+.0f, L1 miss %+.0f; want +1, +1, +0", d[0], d[1], d[2])
	}
	return true, ""
}

// TestFault03ReplicaBehind holds the replica 30 s behind the primary
// (recovery_min_apply_delay) while creators make links through the front
// door and read each back at once: through the API (the front door and a
// node) and as a redirect through both edges. Some links are aliases that
// each edge was asked for twice just before the create: the second 404
// must come from a negative entry in the edge's L1 (its counters say so),
// the entry the create's link event must evict. Some lose their Redis
// entry right after the create (as if the write-through had failed), so
// that the edge must go to the database, where the replica does not have
// them yet. A read-your-writes violation is any read after the
// acknowledgement that misses the link, and, for a probed alias, any 404
// or first redirect after its negative entry would have expired by
// itself: the create did not evict it (or a 404 was cached after it).
func TestFault03ReplicaBehind(t *testing.T) {
	f := startStack(t)
	ctx := t.Context()
	s := f.s

	if err := s.DelayReplica(ctx, replicaDelay); err != nil {
		t.Fatal(err)
	}
	marker, err := f.create(ctx, s.FrontDoor.URL, "https://example.com/fault03/marker", "")
	if err != nil || marker.status != http.StatusCreated {
		t.Fatalf("create the marker: %v %d %s", err, marker.status, marker.body)
	}
	markerAt := time.Now()

	var (
		next                                atomic.Int64
		mu                                  sync.Mutex
		links                               []link
		violations, apiReads, edgeReads     int
		probed, dropped, behind, probeFirst int
		negative, inTime                    int
		slowestClear                        time.Duration
	)
	gates := make(edgeGates, len(s.Edges))
	invalidations := func() []float64 {
		v := make([]float64, len(s.Edges))
		for i, e := range s.Edges {
			n, err := f.metric(ctx, e, "shortify_edge_invalidations_total")
			if err != nil {
				t.Fatal(err)
			}
			v[i] = n
		}
		return v
	}
	invalBefore := invalidations()
	violate := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		violations++
		if violations <= 10 {
			t.Errorf(format, args...)
		}
	}
	runID := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	end := time.Now().Add(replicaRun) // the fault's deliberate duration
	var wg sync.WaitGroup
	for range replicaCreators {
		wg.Go(func() {
			for time.Now().Before(end) && ctx.Err() == nil {
				n := int(next.Add(1))
				st := f.createAndReadBack(ctx, gates, n, runID, violate)
				mu.Lock()
				if st.link.Code != "" {
					links = append(links, st.link)
				}
				apiReads += st.apiReads
				edgeReads += st.edgeReads
				if st.probed {
					probed++
					negative += st.negative
					inTime += st.inTime
					if !st.waited {
						probeFirst++
					}
					slowestClear = max(slowestClear, st.clearedAfter)
				}
				if st.dropped {
					dropped++
				}
				if st.behind {
					behind++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	invalAfter := invalidations()
	evicted := make([]int, len(s.Edges))
	for i := range evicted {
		evicted[i] = int(invalAfter[i] - invalBefore[i])
	}
	t.Logf("%d links created and read back: %d API reads, %d edge redirects; %d probed for a 404 first (%d negative L1 entries seen, %d redirected at the first read after the create, the slowest %v after), %d with their Redis entry dropped; the replica lacked %d when read; link events applied per edge %v",
		len(links), apiReads, edgeReads, probed, negative, probeFirst, slowestClear.Round(time.Millisecond), dropped, behind, evicted)

	// The probes were real: every probed alias had a negative entry in
	// each edge's L1 before its create, and each edge applied the link
	// event of every create (the eviction of those entries).
	if negative != probed*len(s.Edges) {
		t.Errorf("%d negative L1 entries seen for %d probed aliases on %d edges: want every one", negative, probed, len(s.Edges))
	}
	for i, n := range evicted {
		if n < len(links) {
			t.Errorf("%s applied %d link events during the run, fewer than the %d creates", s.Edges[i].Name, n, len(links))
		}
	}

	// The fault was real: the replica lacked (nearly) every new link, and
	// the marker reached it only about replicaDelay later.
	if behind < len(links)*9/10 {
		t.Errorf("the replica lacked only %d of %d new links when read: it was not behind", behind, len(links))
	}
	var lag time.Duration
	testenv.WaitFor(t, "the marker on the replica", 2*replicaDelay, every(50*time.Millisecond, func() bool {
		n, err := f.linkRowsByCode(s.Replica.DSN(stack.LinkDatabase), []string{marker.link.Code})
		lag = time.Since(markerAt)
		return err == nil && n == 1
	}))
	t.Logf("the marker reached the replica %v after its create", lag.Round(time.Millisecond))
	if lag < replicaDelay*2/3 {
		t.Errorf("the marker reached the replica after %v, want about %v", lag, replicaDelay)
	}
	if err := s.DelayReplica(ctx, 0); err != nil {
		t.Fatal(err)
	}
	f.waitReplicaHas(links)
	f.checkUnique(links)
	f.followAll(links)
	f.checkNoRestart()
	if len(links) == 0 || probed == 0 || dropped == 0 {
		t.Errorf("too little was tried: %d links, %d probed, %d dropped", len(links), probed, dropped)
	}

	faults.Record(t, faults.Row{
		Fault: fmt.Sprintf("replica %v behind (recovery_min_apply_delay; measured %.1f s) while %d creators create through the front door and read each link back at once (API, both edges; some probed for a 404 first, some with their Redis entry dropped)",
			replicaDelay, lag.Seconds(), replicaCreators),
		Expected: fmt.Sprintf("0 read-your-writes violations; every probe's 404 cached in each edge's L1 (counters) and evicted by the create (302 before the %v negative_ttl)", negativeTTL),
		Measured: fmt.Sprintf("%d violations in %d API reads and %d edge redirects of %d new links (%d probed for a 404 first: %d of %d negative L1 entries seen, %d evicted by the create in time (a 302 before negative_ttl), the slowest redirected %.2f s after it; link events applied per edge %v; %d with the Redis entry dropped; the replica lacked %d when read)",
			violations, apiReads, edgeReads, len(links), probed, negative, probed*len(s.Edges), inTime, slowestClear.Seconds(), evicted, dropped, behind),
	})
	if violations > 0 {
		t.Errorf("%d read-your-writes violations", violations)
	}
}

// readBack is what one create and its reads saw.
type readBack struct {
	link                link
	apiReads, edgeReads int
	probed, dropped     bool
	behind              bool          // the replica lacked the link when read
	negative            int           // probed: edges seen answering its 404 from a negative L1 entry
	inTime              int           // probed: edges that redirected it before the entry could expire
	waited              bool          // probed: an edge answered its cached 404 after the create
	clearedAfter        time.Duration // then: from the create's answer to the last edge's first 302
}

// createAndReadBack makes link n and reads it back (see
// TestFault03ReplicaBehind): n%4 says how, generated or a probed alias,
// with its Redis entry or without.
func (f *fixture) createAndReadBack(ctx context.Context, gates edgeGates, n int, runID string, violate func(string, ...any)) readBack {
	s := f.s
	var st readBack
	st.probed, st.dropped = n%2 == 1, n%4 >= 2
	target := "https://example.com/fault03/" + runID + "/" + strconv.Itoa(n)
	alias := ""
	var probedAt time.Time
	if st.probed {
		// Each edge is asked twice: the first 404 comes from the
		// database and leaves a negative entry in its L1, the second
		// must come from that entry (its counters say so): the entry
		// the create has to evict, or this part proves nothing.
		alias = "f3-" + runID + "-" + strconv.Itoa(n)
		probedAt = time.Now()
		for i, e := range s.Edges {
			status, _, err := gates.redirect(ctx, f, i, alias, clientIP(n+i))
			if err != nil || status != http.StatusNotFound {
				violate("probe %s on %s before its create: %d %v, want 404", alias, e.Name, status, err)
				continue
			}
			if ok, why := gates.negativeHit(ctx, f, i, alias, clientIP(n+i)); ok {
				st.negative++
			} else if ctx.Err() == nil {
				violate("probe %s again on %s: not a 404 from a negative L1 entry: %s", alias, e.Name, why)
			}
		}
	}
	r, err := f.create(ctx, s.FrontDoor.URL, target, alias)
	if err != nil || r.status != http.StatusCreated {
		if ctx.Err() == nil {
			violate("create %s: %v %d %.300s", target, err, r.status, r.body)
		}
		return st
	}
	acked := time.Now()
	st.link = r.link
	code := r.link.Code
	if st.dropped {
		f.dropFromL2([]link{r.link})
	}
	if n, err := f.linkRowsByCode(s.Replica.DSN(stack.LinkDatabase), []string{code}); err == nil && n == 0 {
		st.behind = true
	}
	// Through the API: the front door and one node directly.
	for _, base := range []string{s.FrontDoor.URL, s.Nodes[n%len(s.Nodes)].URL} {
		st.apiReads++
		status, got, err := f.getLink(ctx, base, code)
		if err != nil || status != http.StatusOK || got.URL != target {
			violate("GET %s/api/v1/links/%s right after its create: %d %+v %v", base, code, status, got, err)
		}
	}
	// Through each edge: a redirect at once, or, for a probed alias
	// whose 404 the edge cached before the create, a redirect once the
	// create's link event has evicted it: before the entry would have
	// expired by itself (negativeTTL after the first probe), so that
	// only the eviction can have cleared it. A 404 or a first 302 after
	// that says the create did not evict the entry (or cached a 404).
	for i, e := range s.Edges {
		for try := 1; ; try++ {
			st.edgeReads++
			status, loc, err := gates.redirect(ctx, f, i, code, clientIP(n+i))
			now := time.Now()
			inTime := !st.probed || now.Before(probedAt.Add(negativeTTL))
			if err == nil && status == http.StatusFound && loc == target && inTime {
				if st.probed {
					st.inTime++
				}
				if try > 1 {
					st.waited = true
					st.clearedAfter = max(st.clearedAfter, now.Sub(acked))
				}
				break
			}
			if st.probed && err == nil && status == http.StatusNotFound && inTime {
				// The probe's own entry, not yet evicted: ask again.
				select {
				case <-ctx.Done():
					return st
				case <-time.After(50 * time.Millisecond): // a poll interval
				}
				continue
			}
			violate("%s/%s (%s) %v after its create, %v after the first probe: %d to %q %v, want 302 to %s (a probed alias: before its negative entry expires by itself, %v after the probe)",
				e.Name, code, map[bool]string{true: "probed", false: "not probed"}[st.probed],
				now.Sub(acked).Round(time.Millisecond), now.Sub(probedAt).Round(time.Millisecond), status, loc, err, target, negativeTTL)
			break
		}
	}
	return st
}
