// Package loadgen is an open-loop load generator for fault tests and
// benchmarks: it starts requests at a fixed rate whatever the answers, and
// times each from when it was due rather than when it was sent, so a
// stalled server shows as latency instead of hiding as fewer requests
// (coordinated omission).
//
// A test starts a Load, reads a Window (the figures since the previous
// one) before, during and after its fault, and compares them within the
// same run.
package loadgen

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"
)

// Request makes one request. It returns an outcome that the Window counts
// by (an HTTP status such as "302", or "error") and whether it counts as a
// failure.
type Request func(ctx context.Context) (outcome string, failed bool)

// Config is a load.
type Config struct {
	// Rate is requests per second.
	Rate int
	// MaxInFlight bounds requests outstanding at once; a request due when
	// that many are outstanding is not sent and counts as "dropped" (a
	// failure). Zero means 4 × Rate.
	MaxInFlight int
	// Timeout bounds one request. Zero means 5 s.
	Timeout time.Duration
	// LateAfter is how late past its due time a request may start before
	// it counts as late (Stats.Late): the generator itself could not keep
	// the rate (too few cores, a pause), and says so rather than slowing
	// down in silence. Zero means 10 ms.
	LateAfter time.Duration
}

// Load is a running load.
type Load struct {
	cfg    Config
	req    Request
	cancel context.CancelFunc
	done   chan struct{}
	wg     sync.WaitGroup
	// drain, closed by Drain, stops the sending without cancelling the
	// requests in flight.
	drain     chan struct{}
	drainOnce sync.Once
	drainAt   time.Time // when Drain was called; read after drain is closed

	mu  sync.Mutex
	cur window
}

type window struct {
	start     time.Time
	latencies []time.Duration
	outcomes  map[string]int
	failures  int
	late      int
}

// Start starts the load; Stop ends it.
func Start(ctx context.Context, cfg Config, req Request) *Load {
	if cfg.MaxInFlight == 0 {
		cfg.MaxInFlight = 4 * cfg.Rate
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.LateAfter == 0 {
		cfg.LateAfter = 10 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(ctx)
	l := &Load{cfg: cfg, req: req, cancel: cancel, done: make(chan struct{}), drain: make(chan struct{})}
	l.cur = newWindow()
	go l.run(ctx)
	return l
}

func newWindow() window { return window{start: time.Now(), outcomes: map[string]int{}} }

func (l *Load) run(ctx context.Context) {
	defer close(l.done)
	sem := make(chan struct{}, l.cfg.MaxInFlight)
	interval := time.Second / time.Duration(max(l.cfg.Rate, 1))
	next := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	// sendDue starts every request due by until, each timed from its own
	// due time.
	sendDue := func(until time.Time) {
		for ; !next.After(until); next = next.Add(interval) {
			l.send(ctx, sem, next)
		}
	}
	for {
		select {
		case <-ctx.Done():
			l.wg.Wait()
			return
		case <-l.drain:
			// Every request due before Drain is sent, however late this
			// loop got to it (and counts as late if it is); none after.
			sendDue(l.drainAt)
			l.wg.Wait()
			return
		case <-timer.C:
		}
		until := time.Now()
		select {
		case <-l.drain: // no request due after Drain
			if l.drainAt.Before(until) {
				until = l.drainAt
			}
		default:
		}
		sendDue(until)
		timer.Reset(time.Until(next))
	}
}

// send starts the request due at due, or counts it as dropped when
// MaxInFlight are outstanding.
func (l *Load) send(ctx context.Context, sem chan struct{}, due time.Time) {
	select {
	case sem <- struct{}{}:
	default:
		l.record(due, 0, "dropped", true)
		return
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		defer func() { <-sem }()
		late := time.Since(due) > l.cfg.LateAfter
		rctx, cancel := context.WithTimeout(ctx, l.cfg.Timeout)
		outcome, failed := l.req(rctx)
		cancel()
		if ctx.Err() != nil {
			return // stopping: not the server's doing
		}
		l.record(due, time.Since(due), outcome, failed)
		if late {
			l.countLate(due)
		}
	}()
}

func (l *Load) record(due time.Time, d time.Duration, outcome string, failed bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if due.Before(l.cur.start) {
		return // belongs to the window already read
	}
	if outcome != "dropped" {
		l.cur.latencies = append(l.cur.latencies, d)
	}
	l.cur.outcomes[outcome]++
	if failed {
		l.cur.failures++
	}
}

// countLate counts a request of the current window that started late.
func (l *Load) countLate(due time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !due.Before(l.cur.start) {
		l.cur.late++
	}
}

// Stats are the figures of one window.
type Stats struct {
	Duration time.Duration
	Requests int // ended (answered, failed or dropped)
	Failures int
	Outcomes map[string]int
	P50, P99 time.Duration
	Max      time.Duration
	// P95 is the 95th percentile, beside P50 and P99.
	P95 time.Duration
	// Late counts the requests that the generator started more than
	// Config.LateAfter after they were due.
	Late int
}

// FailurePct is the share of requests that failed, in percent.
func (s Stats) FailurePct() float64 {
	if s.Requests == 0 {
		return 0
	}
	return 100 * float64(s.Failures) / float64(s.Requests)
}

// String is a one-line summary for logs and fault figures.
func (s Stats) String() string {
	return fmt.Sprintf("%d requests in %s, %d failed (%.2f%%), p50 %s, p99 %s, max %s, %v",
		s.Requests, s.Duration.Round(time.Millisecond), s.Failures, s.FailurePct(),
		s.P50.Round(10*time.Microsecond), s.P99.Round(10*time.Microsecond), s.Max.Round(10*time.Microsecond), s.Outcomes)
}

// Window returns the figures of the requests due since the previous Window
// (or Start) and starts a new window. Requests still in flight count in
// the window in which they were due only if they end before it is read.
func (l *Load) Window() Stats {
	l.mu.Lock()
	w := l.cur
	l.cur = newWindow()
	l.mu.Unlock()
	s := Stats{Duration: time.Since(w.start), Failures: w.failures, Outcomes: w.outcomes, Late: w.late}
	for _, n := range w.outcomes {
		s.Requests += n
	}
	if len(w.latencies) > 0 {
		sort.Slice(w.latencies, func(i, j int) bool { return w.latencies[i] < w.latencies[j] })
		s.P50 = w.latencies[len(w.latencies)/2]
		s.P95 = w.latencies[min(len(w.latencies)-1, len(w.latencies)*95/100)]
		s.P99 = w.latencies[min(len(w.latencies)-1, len(w.latencies)*99/100)]
		s.Max = w.latencies[len(w.latencies)-1]
	}
	return s
}

// Ended is how many requests of the current window have ended so far, for
// waiting until a phase has seen enough of them.
func (l *Load) Ended() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, c := range l.cur.outcomes {
		n += c
	}
	return n
}

// Drain stops sending, waits until every request in flight has ended
// (each within Config.Timeout) and returns the figures of the current
// window with all of them: every request due before the call is sent
// (the generator may have fallen behind) and none after, and none is left
// out, so a last slow answer counts too. Duration runs to the end of the
// last request. The load is then stopped; Stop after Drain does nothing
// more.
func (l *Load) Drain() Stats {
	l.drainOnce.Do(func() {
		l.drainAt = time.Now()
		close(l.drain)
	})
	<-l.done
	s := l.Window()
	l.cancel()
	return s
}

// Stop ends the load and waits for requests in flight.
func (l *Load) Stop() {
	l.cancel()
	<-l.done
}

// Sleep waits for d, or less when ctx ends first (ctx's error then): the
// phases of a load (warm-up, measured time) are timed with it.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
