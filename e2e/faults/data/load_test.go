//go:build faults

package data

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/testkit/loadgen"
)

// hold lets a fault (or a phase of load) last d: a deliberate duration,
// not a wait for something to happen, so a timer.
func hold(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case <-t.Context().Done():
		t.Fatal("the test ended during a hold")
	case <-time.After(d):
	}
}

// redirectLoad starts an open load of rate redirects a second, each for
// the code pick returns (with the target it must redirect to), through
// the edges in turn, each from one of many clients. A redirect fails
// unless it answers want with that Location (want 404: no Location).
// pick returns ok false when it has nothing left to ask; that request
// counts as "exhausted", not a failure. fails (nil: none) gets the time
// each failed request was due.
func (f *fixture) redirectLoad(rate, want int, pick func(i int) (code, target string, ok bool), fails *timeLog) *loadgen.Load {
	var n atomic.Int64
	return loadgen.Start(f.t.Context(), loadgen.Config{Rate: rate}, func(ctx context.Context) (string, bool) {
		i := int(n.Add(1))
		sent := time.Now()
		code, target, ok := pick(i)
		if !ok {
			return "exhausted", false
		}
		edge := f.s.Edges[i%len(f.s.Edges)]
		status, loc, err := f.redirect(ctx, edge.URL, code, clientIP(i))
		if errors.Is(err, context.Canceled) {
			return "stopped", false // Stop ended the load: not the server's doing
		}
		if err != nil {
			fails.add(sent)
			return "error", true
		}
		out := strconv.Itoa(status)
		if status != want || (want != http.StatusNotFound && loc != target) {
			fails.add(sent)
			return out, true
		}
		return out, false
	})
}

// timeLog collects times, for the first and last failure of a load.
type timeLog struct {
	mu          sync.Mutex
	n           int
	first, last time.Time
}

// add records t; a nil log ignores it.
func (l *timeLog) add(t time.Time) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n == 0 || t.Before(l.first) {
		l.first = t
	}
	if t.After(l.last) {
		l.last = t
	}
	l.n++
}

// window is the time from the first to the last time added, and how many.
func (l *timeLog) window() (time.Duration, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last.Sub(l.first), l.n
}

// anyOf picks a random link of links, again and again.
func anyOf(links []link) func(int) (string, string, bool) {
	return func(int) (string, string, bool) {
		l := links[rand.IntN(len(links))]
		return l.Code, l.URL, true
	}
}

// eachOnce picks the links of links in order, each once.
func eachOnce(links []link) func(int) (string, string, bool) {
	var next atomic.Int64
	return func(int) (string, string, bool) {
		i := int(next.Add(1)) - 1
		if i >= len(links) {
			return "", "", false
		}
		return links[i].Code, links[i].URL, true
	}
}

// createLog is every create a create load made, in the order they were
// sent.
type createLog struct {
	mu   sync.Mutex
	recs []createRec
}

// createRec is one create: when it was sent, what it asked for, what came
// back (status 0: no answer, err says why).
type createRec struct {
	sent   time.Time
	target string
	res    createResult
	err    error
	// abandoned: the load stopped before the answer came.
	abandoned bool
}

func (c *createLog) add(r createRec) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.recs = append(c.recs, r)
}

func (c *createLog) all() []createRec {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]createRec(nil), c.recs...)
}

// createLoad starts an open load of rate creates a second through base,
// each of a target of its own (prefix + a number), and logs them all. A
// create fails unless it answers 201. timeout bounds one create: long,
// so that every create gets the server's answer rather than the
// client's giving up.
func (f *fixture) createLoad(rate int, base, prefix string, timeout time.Duration, log *createLog) *loadgen.Load {
	var n atomic.Int64
	return loadgen.Start(f.t.Context(), loadgen.Config{Rate: rate, Timeout: timeout}, func(ctx context.Context) (string, bool) {
		target := prefix + strconv.FormatInt(n.Add(1), 10)
		rec := createRec{sent: time.Now(), target: target}
		rec.res, rec.err = f.create(ctx, base, target, "")
		// Canceled (not timed out): Stop ended the load with this create
		// in flight. Its row may or may not exist: logged as abandoned.
		rec.abandoned = errors.Is(rec.err, context.Canceled)
		log.add(rec)
		if rec.err != nil {
			return "error", true
		}
		return strconv.Itoa(rec.res.status), rec.res.status != http.StatusCreated
	})
}

// every wraps a WaitFor condition that queries a server so that it runs
// at most once per d (WaitFor polls every 2 ms); in between it reports
// false.
func every(d time.Duration, cond func() bool) func() bool {
	var last time.Time
	return func() bool {
		if time.Since(last) < d {
			return false
		}
		last = time.Now()
		return cond()
	}
}
