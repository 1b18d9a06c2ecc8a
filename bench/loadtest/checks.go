package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/shortify/shortify/client"
)

// statsClicks reads a link's click total from the stats API through the
// front door, as the dashboard does.
func (t *traffic) statsClicks(ctx context.Context, key, code string) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.front+"/api/v1/stats/links/"+code, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, body, err := t.check(req)
	if err != nil {
		return 0, fmt.Errorf("stats of %s: %w", code, err)
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("stats of %s: %s: %s", code, resp.Status, body)
	}
	var st client.LinkStats
	if err := json.Unmarshal(body, &st); err != nil {
		return 0, fmt.Errorf("stats of %s: %w", code, err)
	}
	return st.Totals.Clicks, nil
}

// get is one GET through the front door, its status and Location.
func (t *traffic) get(ctx context.Context, code string) (int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.front+"/"+code, nil)
	if err != nil {
		return 0, "", err
	}
	resp, _, err := t.check(req)
	if err != nil {
		return 0, "", err
	}
	return resp.StatusCode, resp.Header.Get("Location"), nil
}

// probe is one click-to-dashboard measurement: a redirect of a link no
// other request asks for, then the stats API polled until it counts it.
// It returns the delay, from just before the redirect was sent.
func (t *traffic) probe(ctx context.Context, key, code string, within time.Duration) (time.Duration, error) {
	begin := time.Now()
	status, _, err := t.get(ctx, code)
	if err != nil || status != http.StatusFound {
		return 0, fmt.Errorf("probe %s: redirect answered %d, %v", code, status, err)
	}
	deadline := time.Now().Add(within)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var last error
	for time.Now().Before(deadline) {
		n, err := t.statsClicks(ctx, key, code)
		if err == nil && n >= 1 {
			return time.Since(begin), nil
		}
		last = err
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-tick.C:
		}
	}
	return 0, fmt.Errorf("probe %s: not counted within %v (last: %v)", code, within, last)
}

// checkCreates follows every acknowledged create through the front door,
// conc at a time: each must redirect (302) to its URL. It returns how
// many did, and the first that did not.
func (t *traffic) checkCreates(ctx context.Context, links []createdLink, conc int) (int, error) {
	var mu sync.Mutex
	ok := 0
	var first error
	work := make(chan createdLink)
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for l := range work {
				status, loc, err := t.get(ctx, l.Code)
				mu.Lock()
				switch {
				case err == nil && status == http.StatusFound && loc == l.URL:
					ok++
				case first == nil:
					first = fmt.Errorf("GET /%s = %d to %q (%v), want 302 to %s", l.Code, status, loc, err, l.URL)
				}
				mu.Unlock()
			}
		})
	}
	for _, l := range links {
		work <- l
	}
	close(work)
	wg.Wait()
	return ok, first
}

// clicksOf is what the generator knows of one link's clicks: the 302s
// it saw, and the redirects it sent that got no answer (timed out or
// failed on the way): the stack may have served those, so each may or
// may not be counted.
type clicksOf struct{ Seen, Unanswered int64 }

// checkClicks compares the stats' totals of each tracked link with what
// the generator saw, until every one settles or the deadline passes. A
// link settles when its count is at least the 302s seen and at most those
// plus its unanswered redirects (exactly the 302s when all were
// answered); a count above that fails at once: a click counted twice.
func (t *traffic) checkClicks(ctx context.Context, key string, want map[string]clicksOf, within time.Duration) clickCheck {
	c := clickCheck{Links: len(want)}
	pending := map[string]clicksOf{}
	for code, n := range want {
		c.Seen += n.Seen
		c.Unanswered += n.Unanswered
		pending[code] = n
	}
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		for code, n := range pending {
			if ctx.Err() != nil {
				break
			}
			got, err := t.statsClicks(ctx, key, code)
			if err != nil {
				c.Detail = err.Error()
				continue
			}
			switch {
			case got > n.Seen+n.Unanswered:
				c.Detail = fmt.Sprintf("%s counted %d, %d seen and %d unanswered: counted twice", code, got, n.Seen, n.Unanswered)
				c.Counted += got
				delete(pending, code)
			case got >= n.Seen:
				c.Exact++
				c.Counted += got
				delete(pending, code)
			default:
				c.Detail = fmt.Sprintf("%s: %d of %d counted", code, got, n.Seen)
			}
		}
		if len(pending) == 0 {
			break
		}
		select {
		case <-ctx.Done():
			c.Detail = fmt.Sprintf("%d links not settled within %v; last: %s", len(pending), within, c.Detail)
			return c
		case <-tick.C:
		}
	}
	if c.Exact == c.Links {
		c.Detail = ""
	}
	return c
}
