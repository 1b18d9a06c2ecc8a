package edge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shortify/shortify/internal/clickevents"
)

// redirects is a load of requests for links the edge holds, each with a
// Referer of its own (refPrefix + a sequence number), so that every click
// event that reaches the topic names the one request that made it: a
// duplicate shows as a Referer seen twice, a lost event as one never
// seen.
type redirects struct {
	client *http.Client
	base   string
	codes  []string
	next   atomic.Uint64

	mu       sync.Mutex
	answered map[string]bool // Referers of requests answered 302
	unknown  int             // requests with no answer (an error, a timeout): may or may not have clicked
	errs     []string        // the first few of their errors
	retried  int             // sends again after a connection closed before any answer
}

// closedBeforeAnswer reports whether err is a connection the server
// closed or reset before it sent a byte of an answer: on a config reload,
// Caddy closes the old config's listening socket (SO_REUSEPORT, one a
// config), and connections the kernel had queued on it are cut; Go's
// client retries that by itself only on a reused connection. Likewise
// an idle connection the old config's server closed as the client sent
// a request on it ("server closed idle connection"): Go's client sends
// that again by itself only for an idempotent request, not for a POST.
func closedBeforeAnswer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		strings.Contains(err.Error(), "server closed idle connection")
}

const refPrefix = "https://ref.test/"

func newRedirects(base string, codes []string) *redirects {
	return &redirects{client: newClient(), base: base, codes: codes, answered: make(map[string]bool)}
}

// requestTimeout bounds one request of the load. The load's own context
// is not used: Stop cancels it, and a request cut off then may or may not
// have been answered (and clicked), which would spoil the exact count;
// so Stop waits for the requests in flight instead.
const requestTimeout = 10 * time.Second

// retryFor is how long a request cut before any answer is sent again:
// the front door's lb_try_duration for the edges
// (deploy/caddyfiles/frontdoor.Caddyfile).
const retryFor = 2 * time.Second

// request is a loadgen.Request: one GET of the next code.
func (r *redirects) request(ctx context.Context) (string, bool) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), requestTimeout)
	defer cancel()
	n := r.next.Add(1)
	code := r.codes[int(n%uint64(len(r.codes)))]
	ref := refPrefix + strconv.FormatUint(n, 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.base+"/"+code, nil)
	if err != nil {
		return "error", true
	}
	req.Header.Set("Referer", ref)
	resp, err := r.client.Do(req)
	for start := time.Now(); err != nil && closedBeforeAnswer(err) && time.Since(start) < retryFor; {
		// Again, as the front door does (reverse_proxy, lb_try_duration
		// 2s) and browsers do: the edge closed the connection without an
		// answer. If it had handled the request after all, the click
		// check would see the Referer twice.
		r.mu.Lock()
		r.retried++
		r.mu.Unlock()
		resp, err = resendClient.Do(req)
	}
	if err != nil {
		r.mu.Lock()
		r.unknown++
		if len(r.errs) < 5 {
			r.errs = append(r.errs, err.Error())
		}
		r.mu.Unlock()
		return "error", true
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode == http.StatusFound {
		r.mu.Lock()
		r.answered[ref] = true
		r.mu.Unlock()
	}
	return strconv.Itoa(resp.StatusCode), resp.StatusCode != http.StatusFound
}

// warm asks for every code once, so that each is in the edge's L1 before
// the load (the requests count as the load's).
func (r *redirects) warm(t *testing.T) {
	t.Helper()
	for _, c := range r.codes {
		if out, _ := r.request(t.Context()); out != "302" {
			t.Fatalf("warm-up GET /%s: %s", c, out)
		}
	}
}

// pause lets d pass: a phase's deliberate length, not a wait for an
// event.
func pause(d time.Duration) {
	tm := time.NewTimer(d)
	defer tm.Stop()
	<-tm.C
}

// counts returns how many requests were answered 302, how many got no
// answer, and how many were sent twice (closedBeforeAnswer).
func (r *redirects) counts() (answered, unknown, retried int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.answered), r.unknown, r.retried
}

// clickLog reads the clicks topic from its start, for the whole test, and
// counts the events by Referer.
type clickLog struct {
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	seen    map[string]int
	events  int
	foreign int // events whose Referer is not one of the load's
	errs    []string
}

// readClicks starts reading topic at broker; it stops when the test ends.
func readClicks(t *testing.T, broker, topic string) *clickLog {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &clickLog{cancel: cancel, done: make(chan struct{}), seen: make(map[string]int)}
	go func() {
		defer close(c.done)
		defer cl.Close()
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			fs.EachRecord(func(rec *kgo.Record) {
				var ev clickevents.Event
				err := ev.UnmarshalBinary(rec.Value)
				c.mu.Lock()
				defer c.mu.Unlock()
				switch {
				case err != nil:
					c.errs = append(c.errs, fmt.Sprintf("offset %d/%d: %v", rec.Partition, rec.Offset, err))
				case len(ev.Referrer) > len(refPrefix) && ev.Referrer[:len(refPrefix)] == refPrefix:
					c.seen[ev.Referrer]++
					c.events++
				default:
					c.foreign++
				}
			})
		}
	}()
	t.Cleanup(c.stop)
	return c
}

func (c *clickLog) stop() {
	c.cancel()
	<-c.done
}

// count is the number of the load's events read so far.
func (c *clickLog) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.events
}

// clickCheck is what the topic held against what the load was answered.
type clickCheck struct {
	Events     int      // the load's events in the topic
	Distinct   int      // distinct Referers among them
	Duplicated int      // events beyond the first of their Referer
	Unanswered int      // events of requests not answered 302 (none may be)
	Missing    int      // requests answered 302 whose event never came
	Undecoded  []string // records that did not decode
	Foreign    int
}

// check compares the events read with the requests answered.
func (c *clickLog) check(r *redirects) clickCheck {
	c.mu.Lock()
	defer c.mu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	out := clickCheck{Events: c.events, Distinct: len(c.seen), Undecoded: slices.Clone(c.errs), Foreign: c.foreign}
	for ref, n := range c.seen {
		out.Duplicated += n - 1
		if !r.answered[ref] {
			out.Unanswered++
		}
	}
	for ref := range r.answered {
		if c.seen[ref] == 0 {
			out.Missing++
		}
	}
	return out
}
