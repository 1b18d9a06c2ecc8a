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

// TestFault03ReplicaBehind holds the replica 30 s behind the primary
// (recovery_min_apply_delay) while creators make links through the front
// door and read each back at once: through the API (the front door and a
// node) and as a redirect through both edges. Some links are aliases that
// each edge was asked for just before the create (so that the edge holds
// a cached 404 for them), and some lose their Redis entry right after the
// create (as if the write-through had failed), so that the edge must go
// to the database, where the replica does not have them yet. A
// read-your-writes violation is any read after the acknowledgement that
// misses the link, and any 404 for it after the negative entry of the
// probe would have expired by itself (a 404 cached after the create).
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
		slowestClear                        time.Duration
	)
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
				st := f.createAndReadBack(ctx, n, runID, violate)
				mu.Lock()
				if st.link.Code != "" {
					links = append(links, st.link)
				}
				apiReads += st.apiReads
				edgeReads += st.edgeReads
				if st.probed {
					probed++
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
	t.Logf("%d links created and read back: %d API reads, %d edge redirects; %d probed for a 404 first (%d redirected at the first read after the create, the slowest %v after), %d with their Redis entry dropped; the replica lacked %d when read",
		len(links), apiReads, edgeReads, probed, probeFirst, slowestClear.Round(time.Millisecond), dropped, behind)

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
		Expected: "0 read-your-writes violations; no 404 cached after a create",
		Measured: fmt.Sprintf("%d violations in %d API reads and %d edge redirects of %d new links (%d probed for a 404 first: the slowest redirected %.2f s after its create; %d with the Redis entry dropped; the replica lacked %d when read)",
			violations, apiReads, edgeReads, len(links), probed, slowestClear.Seconds(), dropped, behind),
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
	waited              bool          // probed: an edge answered its cached 404 after the create
	clearedAfter        time.Duration // then: from the create's answer to the last edge's first 302
}

// createAndReadBack makes link n and reads it back (see
// TestFault03ReplicaBehind): n%4 says how, generated or a probed alias,
// with its Redis entry or without.
func (f *fixture) createAndReadBack(ctx context.Context, n int, runID string, violate func(string, ...any)) readBack {
	s := f.s
	var st readBack
	st.probed, st.dropped = n%2 == 1, n%4 >= 2
	target := "https://example.com/fault03/" + runID + "/" + strconv.Itoa(n)
	alias := ""
	var probedAt time.Time
	if st.probed {
		alias = "f3-" + runID + "-" + strconv.Itoa(n)
		probedAt = time.Now()
		for i, e := range s.Edges {
			status, _, err := f.redirect(ctx, e.URL, alias, clientIP(n+i))
			if err != nil || status != http.StatusNotFound {
				violate("probe %s on %s before its create: %d %v, want 404", alias, e.Name, status, err)
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
	// create's link event has evicted it. A 404 after the probe's
	// negative entry would have expired by itself is one the edge
	// cached after the create.
	for i, e := range s.Edges {
		for try := 1; ; try++ {
			st.edgeReads++
			status, loc, err := f.redirect(ctx, e.URL, code, clientIP(n+i))
			now := time.Now()
			if err == nil && status == http.StatusFound && loc == target {
				if try > 1 {
					st.waited = true
					st.clearedAfter = max(st.clearedAfter, now.Sub(acked))
				}
				break
			}
			if st.probed && err == nil && status == http.StatusNotFound && now.Before(probedAt.Add(negativeTTL)) {
				// The probe's own entry, not yet evicted: ask again.
				select {
				case <-ctx.Done():
					return st
				case <-time.After(50 * time.Millisecond): // a poll interval
				}
				continue
			}
			violate("%s/%s (%s) %v after its create: %d to %q %v, want 302 to %s", e.Name, code, map[bool]string{true: "probed", false: "not probed"}[st.probed],
				now.Sub(acked).Round(time.Millisecond), status, loc, err, target)
			break
		}
	}
	return st
}
