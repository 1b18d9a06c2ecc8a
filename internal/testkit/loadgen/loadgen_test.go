package loadgen

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/testkit/testenv"
)

// A server that stalls shows as latency and failures in the window of the
// stall, not as fewer requests, and the windows before and after it are
// clean.
func TestOpenLoopWindows(t *testing.T) {
	var stall atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if stall.Load() {
			// The fault under test: a server that answers 300 ms late
			// (a delay it serves, not a wait for anything).
			select {
			case <-time.After(300 * time.Millisecond):
			case <-r.Context().Done():
				return
			}
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusFound)
	}))
	defer srv.Close()
	req := getRequest(srv)
	l := Start(context.Background(), Config{Rate: 200}, req)
	defer l.Stop()
	settle := func(n int) {
		testenv.WaitFor(t, "requests", 10*time.Second, func() bool { return l.Ended() >= n })
	}
	settle(60)
	before := l.Window()
	stall.Store(true)
	settle(60)
	stall.Store(false)
	settle(120) // the stalled requests end
	during := l.Window()
	t.Logf("before: %s", before)
	t.Logf("during: %s", during)
	if before.Requests < 30 || before.Failures != 0 || before.Outcomes["302"] != before.Requests {
		t.Fatalf("before = %s, want only 302s", before)
	}
	if during.Outcomes["503"] == 0 || during.P99 < 300*time.Millisecond {
		t.Fatalf("during = %s, want 503s and a p99 past the stall", during)
	}
}

// A generator that cannot start requests on time says so: with a bound of
// a nanosecond every request starts late, and p95 lies between p50 and
// p99.
func TestLateStartsAndP95(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusFound)
	}))
	defer srv.Close()
	req := getRequest(srv)
	l := Start(context.Background(), Config{Rate: 200, LateAfter: time.Nanosecond}, req)
	defer l.Stop()
	testenv.WaitFor(t, "requests", 10*time.Second, func() bool { return l.Ended() >= 60 })
	s := l.Window()
	if s.Late == 0 || s.Late > s.Requests {
		t.Fatalf("late = %d of %d, want some, at most all", s.Late, s.Requests)
	}
	if s.P95 < s.P50 || s.P95 > s.P99 {
		t.Fatalf("p50 %v, p95 %v, p99 %v: want p50 ≤ p95 ≤ p99", s.P50, s.P95, s.P99)
	}
}

// Drain counts every request sent, those still in flight when it is
// called included: the server sees as many requests as the figures hold,
// and the slow answers are in the p99.
func TestDrainCountsRequestsInFlight(t *testing.T) {
	var seen atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen.Add(1)
		// Every answer takes 100 ms (a delay the server serves), so
		// that about ten requests are in flight at any time.
		select {
		case <-time.After(100 * time.Millisecond):
		case <-r.Context().Done():
			return
		}
		w.WriteHeader(http.StatusFound)
	}))
	defer srv.Close()
	req := getRequest(srv)
	begin := time.Now()
	l := Start(context.Background(), Config{Rate: 100}, req)
	defer l.Stop()
	testenv.WaitFor(t, "requests", 10*time.Second, func() bool { return l.Ended() >= 30 })
	// One request every 10 ms from the start: those due before Drain.
	due := int(time.Since(begin)/(10*time.Millisecond)) + 1
	s := l.Drain()
	// Drain took the 100 ms of the last answers: a bound, not the count.
	dueByReturn := int(time.Since(begin)/(10*time.Millisecond)) + 1
	t.Logf("drained: %s; %d due before Drain", s, due)
	if s.Requests < due-1 || s.Requests > dueByReturn {
		t.Errorf("drained %d requests, want every one of the %d due before Drain (and fewer than the %d due by its return)", s.Requests, due, dueByReturn)
	}
	if n := seen.Load(); int64(s.Requests) != n || s.Outcomes["302"] != s.Requests || s.Failures != 0 {
		t.Fatalf("drained %s; the server saw %d requests: want all of them, all 302s", s, n)
	}
	if s.Requests < 31 || s.P50 < 100*time.Millisecond || s.P99 < s.P50 {
		t.Fatalf("drained %s: want the requests in flight too, each at least 100 ms", s)
	}
	if again := l.Drain(); again.Requests != 0 {
		t.Fatalf("a second Drain = %s, want nothing more", again)
	}
	l.Stop() // after Drain: returns at once
}

// getRequest is a Request of one GET of srv's root: its status is the
// outcome, anything but a 302 a failure.
func getRequest(srv *httptest.Server) Request {
	client := srv.Client()
	return func(ctx context.Context) (string, bool) {
		r, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		resp, err := client.Do(r)
		if err != nil {
			return "error", true
		}
		resp.Body.Close()
		return strconv.Itoa(resp.StatusCode), resp.StatusCode != http.StatusFound
	}
}

// Sleep returns nil after its duration and ctx's error when ctx ends first.
func TestSleep(t *testing.T) {
	if err := Sleep(context.Background(), time.Millisecond); err != nil {
		t.Fatalf("elapsed: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v, want context.Canceled", err)
	}
}
