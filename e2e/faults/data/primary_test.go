//go:build faults

package data

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/shortify/shortify/internal/l2cache"
	"github.com/shortify/shortify/internal/testkit/faults"
	"github.com/shortify/shortify/internal/testkit/loadgen"
	"github.com/shortify/shortify/internal/testkit/stack"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// Fault 2's shape.
const (
	// primaryOutage is how long the primary stays down.
	primaryOutage = 30 * time.Second
	// The links redirected during it: cached ones (in both edges' L1,
	// whose cache_ttl of 1 m outlives the outage) and cold ones (on the
	// replica, in no cache, each asked for once: read from the replica).
	primaryCachedLinks, primaryColdLinks = 100, 300
	// Loads, per second.
	primaryCachedRate, primaryColdRate, primaryCreateRate = 30, 5, 2
	// primaryCreateTimeout bounds one create of the load: long, so that
	// every create gets the server's answer.
	primaryCreateTimeout = 30 * time.Second
	// phase is the load before the fault and after recovery.
	phase = 10 * time.Second
)

// TestFault02PrimaryDown stops the PostgreSQL primary (a fast shutdown)
// for 30 s under load and starts it again: redirects of cached links and
// of links only the replica serves go on without an error, creates
// through the front door answer 503 with Retry-After while it is down and
// none is half-done (every acknowledged link is in the database and every
// link in the database was acknowledged), and once it is back creates
// work again without a restart of any Shortify process.
func TestFault02PrimaryDown(t *testing.T) {
	f := startStack(t)
	ctx := t.Context()
	s := f.s

	cached := f.createMany("https://example.com/fault02/cached/", primaryCachedLinks)
	cold := f.createMany("https://example.com/fault02/cold/", primaryColdLinks)
	for i, l := range cached {
		for _, e := range s.Edges {
			if status, loc, err := f.redirect(ctx, e.URL, l.Code, clientIP(i)); err != nil || status != http.StatusFound || loc != l.URL {
				t.Fatalf("warm %s on %s: %d %q %v", l.Code, e.Name, status, loc, err)
			}
		}
	}
	f.waitReplicaHas(cold)
	f.dropFromL2(cold)
	t.Logf("%d cached links in both edges' L1, %d cold links on the replica only", len(cached), len(cold))

	cachedLoad := f.redirectLoad(primaryCachedRate, http.StatusFound, anyOf(cached), nil)
	coldLoad := f.redirectLoad(primaryColdRate, http.StatusFound, eachOnce(cold), nil)
	var creates createLog
	const livePrefix = "https://example.com/fault02/live/"
	createLoad := f.createLoad(primaryCreateRate, s.FrontDoor.URL, livePrefix, primaryCreateTimeout, &creates)
	loads := []*loadgen.Load{cachedLoad, coldLoad, createLoad}
	defer func() {
		for _, l := range loads {
			l.Stop()
		}
	}()
	windows := func() [3]loadgen.Stats {
		return [3]loadgen.Stats{cachedLoad.Window(), coldLoad.Window(), createLoad.Window()}
	}

	hold(t, phase)
	before := windows()
	stopping := time.Now()
	if err := s.StopPrimary(); err != nil {
		t.Fatal(err)
	}
	down := time.Now()
	t.Logf("primary stopped (fast shutdown took %v)", down.Sub(stopping).Round(time.Millisecond))
	hold(t, primaryOutage) // the fault's deliberate duration
	during := windows()
	startCtx, cancel := context.WithTimeout(ctx, time.Minute)
	err := s.StartPrimary(startCtx)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	up := time.Now()
	t.Logf("primary up again after %v", up.Sub(stopping).Round(time.Millisecond))
	// Recovery: a create sent after the primary was back succeeds.
	testenv.WaitFor(t, "a create to succeed after the primary came back", 2*time.Minute, func() bool {
		for _, r := range creates.all() {
			if r.sent.After(up) && r.res.status == http.StatusCreated {
				return true
			}
		}
		return false
	})
	recovered := time.Now()
	hold(t, phase)
	after := windows()
	for _, l := range loads {
		l.Stop()
	}
	loads = nil
	names := []string{"cached redirects", "replica-served redirects", "creates"}
	for i, w := range [][3]loadgen.Stats{before, during, after} {
		for j, st := range w {
			t.Logf("%s %s: %s", []string{"before", "during", "after"}[i], names[j], st)
		}
	}

	// Redirects: none failed, before, during or after.
	for i, w := range [][3]loadgen.Stats{before, during, after} {
		for j := range 2 {
			if w[j].Failures != 0 {
				t.Errorf("%s, %s: %d of %d failed: %v", []string{"before", "during", "after"}[i], names[j], w[j].Failures, w[j].Requests, w[j].Outcomes)
			}
		}
	}
	if during[1].Outcomes["302"] == 0 {
		t.Errorf("no replica-served redirect during the outage: %v", during[1].Outcomes)
	}

	// Creates: 201 or 503 with Retry-After, nothing else; the 503s only
	// around the outage.
	var first503, last503 time.Time
	n503, noRetry, other, unanswered := 0, 0, 0, 0
	acked := map[string]link{} // target → link
	abandoned := map[string]bool{}
	for _, r := range creates.all() {
		switch {
		case r.abandoned:
			abandoned[r.target] = true
		case r.err != nil:
			unanswered++
			t.Errorf("create %s sent at %s: no answer: %v", r.target, r.sent.Format("15:04:05.000"), r.err)
		case r.res.status == http.StatusCreated:
			acked[r.target] = r.res.link
		case r.res.status == http.StatusServiceUnavailable:
			n503++
			if first503.IsZero() {
				first503 = r.sent
			}
			last503 = r.sent
			if r.res.retryAfter == "" {
				noRetry++
				if noRetry <= 3 {
					t.Errorf("create %s: 503 without Retry-After: %.300s", r.target, r.res.body)
				}
			}
		default:
			other++
			t.Errorf("create %s: %d %.300s", r.target, r.res.status, r.res.body)
		}
	}
	window := last503.Sub(first503)
	if n503 == 0 {
		t.Errorf("no create answered 503 while the primary was down")
	} else {
		t.Logf("creates: %d answered 503, the first sent %v after the stop began, the last %v after the primary was up; window %v (outage %v)",
			n503, first503.Sub(stopping).Round(time.Millisecond), last503.Sub(up).Round(time.Millisecond), window.Round(time.Millisecond), up.Sub(stopping).Round(time.Millisecond))
		if first503.Before(stopping.Add(-primaryCreateTimeout)) {
			t.Errorf("a create answered 503 long before the primary stopped (sent %v)", first503)
		}
	}
	// Recovery within half the outage again, measured in this run.
	if limit := up.Sub(stopping) * 3 / 2; window > limit {
		t.Errorf("create error window %v, want ≤ 1.5 × the outage (%v)", window, limit)
	}
	t.Logf("first create after the restart succeeded %v after the primary was up", recovered.Sub(up).Round(time.Millisecond))

	// None half-done: the database holds exactly the acknowledged links.
	rows, err := f.linkRows(ctx, s.Primary.DSN(stack.LinkDatabase), livePrefix)
	if err != nil {
		t.Fatal(err)
	}
	lost, halfDone := 0, 0
	for target, l := range acked {
		if codes := rows[target]; len(codes) != 1 || codes[0] != l.Code {
			lost++
			t.Errorf("acknowledged %s → %s: the database has %v", l.Code, target, codes)
		}
	}
	for target, codes := range rows {
		if _, ok := acked[target]; !ok && !abandoned[target] {
			halfDone++
			t.Errorf("%s → %v is in the database, but its create was not acknowledged", target, codes)
		}
	}
	dups := f.checkUnique(append(append(append([]link(nil), cached...), cold...), values(acked)...))

	// Everything works again, with no restart: every link made during
	// the test redirects through both edges, creates work through every
	// node, the replica streams.
	f.followAll(append(append(append([]link(nil), cached...), cold...), values(acked)...))
	for _, n := range s.Nodes {
		if r, err := f.create(ctx, n.URL, "https://example.com/fault02/after/"+n.Name, ""); err != nil || r.status != http.StatusCreated {
			t.Errorf("create through %s after the outage: %v %d %.300s", n.Name, err, r.status, r.body)
		}
	}
	waitCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := s.WaitReplicaStreaming(waitCtx); err != nil {
		t.Error(err)
	}
	f.checkNoRestart()

	faults.Record(t, faults.Row{
		Fault: fmt.Sprintf("PostgreSQL primary stopped %v (fast shutdown, then started again) under %d cached + %d replica-served redirects/s and %d creates/s through the front door",
			primaryOutage, primaryCachedRate, primaryColdRate, primaryCreateRate),
		Expected: "0 failed redirects; creates 201 or 503 with Retry-After, 0 half-done, 0 lost, 0 duplicate codes; create error window ≤ 1.5 × outage; no Shortify restart",
		Measured: fmt.Sprintf("redirect errors during the outage %.2f%% (cached %d/%d %v, replica-served %d/%d %v); create error window %.1f s (outage %.1f s; %d × 503, %d without Retry-After, %d other, %d unanswered); %d half-done, %d lost, %d duplicate codes",
			pct(during[0].Failures+during[1].Failures, during[0].Requests+during[1].Requests),
			during[0].Failures, during[0].Requests, during[0].Outcomes, during[1].Failures, during[1].Requests, during[1].Outcomes,
			window.Seconds(), up.Sub(stopping).Seconds(), n503, noRetry, other, unanswered, halfDone, lost, dups),
	})
}

// pct is part of whole in percent (0 of nothing).
func pct(part, whole int) float64 {
	if whole == 0 {
		return 0
	}
	return 100 * float64(part) / float64(whole)
}

// values are m's values.
func values(m map[string]link) []link {
	out := make([]link, 0, len(m))
	for _, l := range m {
		out = append(out, l)
	}
	return out
}

// checkUnique fails the test for each code given to two links and
// returns how many there were.
func (f *fixture) checkUnique(links []link) int {
	f.t.Helper()
	seen, dups := map[string]string{}, 0
	for _, l := range links {
		if prev, ok := seen[l.Code]; ok {
			dups++
			f.t.Errorf("code %s issued twice: %s and %s", l.Code, prev, l.URL)
		}
		seen[l.Code] = l.URL
	}
	return dups
}

// followAll checks that every link redirects to its target through each
// edge (from many clients, so that no rate limit applies).
func (f *fixture) followAll(links []link) {
	f.t.Helper()
	bad := 0
	for i, l := range links {
		for _, e := range f.s.Edges {
			status, loc, err := f.redirect(f.t.Context(), e.URL, l.Code, clientIP(i))
			if err != nil || status != http.StatusFound || loc != l.URL {
				if bad++; bad <= 5 {
					f.t.Errorf("%s/%s: %d to %q (%v), want 302 to %s", e.Name, l.Code, status, loc, err, l.URL)
				}
			}
		}
	}
	if bad > 0 {
		f.t.Errorf("%d of %d redirects failed", bad, len(links)*len(f.s.Edges))
	}
}

// waitReplicaHas waits until the replica holds every one of links.
func (f *fixture) waitReplicaHas(links []link) {
	f.t.Helper()
	codes := make([]string, len(links))
	for i, l := range links {
		codes[i] = l.Code
	}
	testenv.WaitFor(f.t, "the replica to hold the links", time.Minute, every(50*time.Millisecond, func() bool {
		rows, err := f.linkRowsByCode(f.s.Replica.DSN(stack.LinkDatabase), codes)
		return err == nil && rows == len(codes)
	}))
}

// linkRowsByCode counts the links of codes in the database at dsn.
func (f *fixture) linkRowsByCode(dsn string, codes []string) (int, error) {
	ctx, cancel := context.WithTimeout(f.t.Context(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.Background())
	var n int
	err = conn.QueryRow(ctx, "SELECT count(*) FROM links WHERE code = ANY($1)", codes).Scan(&n)
	return n, err
}

// dropFromL2 deletes the links' entries from the Redis L2 (a plain DEL,
// as if they had expired there), so that their next load reads the
// store.
func (f *fixture) dropFromL2(links []link) {
	f.t.Helper()
	rc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: strings.Split(f.s.Redis.Seeds(), ",")})
	defer rc.Close()
	for _, l := range links {
		if err := rc.Del(f.t.Context(), l2cache.DefaultPrefix+l.Code).Err(); err != nil {
			f.t.Fatalf("drop %s from the L2: %v", l.Code, err)
		}
	}
}
