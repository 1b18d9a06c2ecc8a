//go:build faults

package upgrade

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/shortify/shortify/client"
)

// noFollow answers redirects instead of following them; its idle
// connections are kept for the load's rate.
var noFollow = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Transport:     &http.Transport{MaxIdleConnsPerHost: 64},
}

// maxDetails bounds the failures a load keeps word for word.
const maxDetails = 20

// redirects follows the links made before the upgrade through one base
// URL (the front door) and remembers, per code, the redirects answered
// (each a click the stats must count once) and those whose answer never
// arrived, because the load stopped or the request failed on the way
// (clicks that may or may not count).
type redirects struct {
	base  string
	links []client.Link

	mu        sync.Mutex
	answered  map[string]int64
	ambiguous map[string]int64
	failed    int
	details   []string
}

func newRedirects(base string, links []client.Link) *redirects {
	return &redirects{base: base, links: links, answered: map[string]int64{}, ambiguous: map[string]int64{}}
}

// request is the load's loadgen.Request: GET /{code} of a random link; a
// failure is anything but a 302 to the link's target.
func (r *redirects) request(ctx context.Context) (string, bool) {
	l := r.links[rand.IntN(len(r.links))]
	status, loc, err := get(ctx, r.base+"/"+l.Code)
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case err != nil && errors.Is(err, context.Canceled):
		r.ambiguous[l.Code]++ // the load stopped: not the server's doing
		return "stopped", false
	case err != nil:
		// The edge may have answered (and counted a click) after the
		// client gave up.
		r.ambiguous[l.Code]++
		r.fail(fmt.Sprintf("GET /%s: %v", l.Code, err))
		return "error", true
	case status != http.StatusFound || loc != l.URL:
		r.fail(fmt.Sprintf("GET /%s: %d to %q, want 302 to %s", l.Code, status, loc, l.URL))
		return fmt.Sprint(status), true
	}
	r.answered[l.Code]++
	return "302", false
}

// fail counts a failure and keeps its first details; r.mu is held.
func (r *redirects) fail(detail string) {
	r.failed++
	if len(r.details) < maxDetails {
		r.details = append(r.details, detail)
	}
}

// get makes one GET without following a redirect.
func get(ctx context.Context, url string) (status int, location string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := noFollow.Do(req)
	if err != nil {
		return 0, "", err
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location"), nil
}

// creates makes links through the Go client (client.New with its default
// retries: a 503 with Retry-After is sent again, docs/client.md) and
// remembers every link acknowledged, how many needed a retry, and how
// many failed beyond the retries.
type creates struct {
	c *client.Client
	n atomic.Int64

	mu            sync.Mutex
	acked         []client.Link
	retried       int // acknowledged after at least one 503
	retries       int // 503s answered and sent again
	failed        int // failed beyond retries
	stopped       int // cut off by the load's end: neither
	details       []string
	retryStatuses map[int]int
}

// attemptsKey carries a create's *attempts through its context to the
// counting transport.
type attemptsKey struct{}

// attempts are the answers one create got, in order.
type attempts struct {
	mu       sync.Mutex
	statuses []int
}

// countingTransport records each answer's status in the request's
// attempts, so that retries the client makes on its own are counted.
type countingTransport struct{ next http.RoundTripper }

func (t countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if a, ok := req.Context().Value(attemptsKey{}).(*attempts); ok {
		status := 0 // a transport error
		if err == nil {
			status = resp.StatusCode
		}
		a.mu.Lock()
		a.statuses = append(a.statuses, status)
		a.mu.Unlock()
	}
	return resp, err
}

func newCreates(base, key string) (*creates, error) {
	hc := &http.Client{Transport: countingTransport{next: &http.Transport{MaxIdleConnsPerHost: 16}}}
	c, err := client.New(base, client.WithAPIKey(key), client.WithHTTPClient(hc))
	if err != nil {
		return nil, err
	}
	return &creates{c: c, retryStatuses: map[int]int{}}, nil
}

// request is the load's loadgen.Request: one create of a new target.
func (c *creates) request(ctx context.Context) (string, bool) {
	target := fmt.Sprintf("https://example.com/upgrade/%d", c.n.Add(1))
	a := &attempts{}
	l, err := c.c.CreateLink(context.WithValue(ctx, attemptsKey{}, a), client.CreateLinkRequest{URL: target})
	a.mu.Lock()
	statuses := append([]int(nil), a.statuses...)
	a.mu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range statuses[:max(len(statuses)-1, 0)] {
		c.retries++
		c.retryStatuses[s]++
	}
	switch {
	case err != nil && errors.Is(err, context.Canceled):
		c.stopped++
		return "stopped", false
	case err != nil:
		c.failed++
		if len(c.details) < maxDetails {
			c.details = append(c.details, fmt.Sprintf("create %s: answers %v: %v", target, statuses, err))
		}
		return "failed", true
	case l.URL != target || l.Code == "":
		c.failed++
		if len(c.details) < maxDetails {
			c.details = append(c.details, fmt.Sprintf("create %s: acknowledged as %+v", target, *l))
		}
		return "wrong", true
	}
	c.acked = append(c.acked, *l)
	if len(statuses) > 1 {
		c.retried++
		return "201 after retries", false
	}
	return "201", false
}
