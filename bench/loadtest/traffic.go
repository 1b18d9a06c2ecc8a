package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// userAgent is a browser's: the stats count the generator's clicks as a
// visitor's, not a bot's.
const userAgent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"

// clientPool is the generator's clients, n of them, each an HTTP/1.1
// keep-alive client of its own loopback address in 127.net2.0.0/16 (Linux
// answers the whole of 127/8), never following redirects, with at most
// connsPerClient connections. The front door's X-Forwarded-For shows the
// edges n clients, each well within the per-client rate limit
// (edge.Caddyfile: 100/s), as real visitors would be, instead of one
// client 100 times over it. Requests take the clients in turn, so each
// address carries 1/n of the load at any concurrency: one shared pool of
// connections reuses the most recently idle one, so at a low concurrency
// a few addresses carried everything and met the limit. net2 is the
// addresses' second byte: each pool a range of its own.
type clientPool struct {
	clients []*http.Client
	next    atomic.Uint32
}

// connsPerClient bounds one client's connections, as a browser's.
const connsPerClient = 4

func newClientPool(n int, net2 byte) *clientPool {
	p := &clientPool{clients: make([]*http.Client, n)}
	for i := range p.clients {
		dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second,
			LocalAddr: &net.TCPAddr{IP: net.IPv4(127, net2, byte(i>>8), byte(i&0xff)+1)}}
		p.clients[i] = &http.Client{
			Transport: &http.Transport{
				DialContext:         dialer.DialContext,
				MaxConnsPerHost:     connsPerClient,
				MaxIdleConnsPerHost: connsPerClient,
				IdleConnTimeout:     time.Minute,
				DisableCompression:  true,
			},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	return p
}

// pick is the client of the next request.
func (p *clientPool) pick() *http.Client {
	return p.clients[int(p.next.Add(1)-1)%len(p.clients)]
}

// closeIdle closes every client's idle connections.
func (p *clientPool) closeIdle() {
	for _, c := range p.clients {
		c.CloseIdleConnections()
	}
}

// traffic is the mix the generator sends through the front door and what
// it was answered: redirects of Zipf-drawn seeded codes, creates, and API
// reads.
type traffic struct {
	// client sends the load; checks, a pool of its own, the probes and
	// the checks, so that they measure the stack, not the load's queue
	// for a connection.
	client, checks *clientPool
	front          string // the front door's base URL
	key            string // a creator key of the default workspace
	codes          *codes
	zipf           *zipf

	// seen counts the 302s of each tracked rank (the top len(seen)), for
	// the exactly-once check; redirects counts every 302.
	seen []atomic.Int64
	// unanswered counts the tracked ranks' redirects without an answer.
	unanswered []atomic.Int64
	redirects  atomic.Int64

	mu      sync.Mutex
	created []createdLink
	nextURL atomic.Int64
}

// createdLink is a create the API acknowledged (201).
type createdLink struct {
	Code string `json:"code"`
	URL  string `json:"url"`
}

// outcome names an answer for the load's tally: the status, or "error".
func outcome(resp *http.Response, err error) string {
	if err != nil {
		return "error"
	}
	return strconv.Itoa(resp.StatusCode)
}

// do sends req on the load's connections and reads the whole answer (so
// the connection is reused).
func (t *traffic) do(req *http.Request) (*http.Response, []byte, error) {
	return send(t.client.pick(), req)
}

// check is do on the checks' connections.
func (t *traffic) check(req *http.Request) (*http.Response, []byte, error) {
	return send(t.checks.pick(), req)
}

func send(c *http.Client, req *http.Request) (*http.Response, []byte, error) {
	req.Header.Set("User-Agent", userAgent)
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

// redirect is one redirect of a Zipf-drawn code; a 302 is success.
func (t *traffic) redirect(ctx context.Context) (string, bool) {
	rank := t.zipf.Next()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.front+"/"+t.codes.At(rank), nil)
	if err != nil {
		return "error", true
	}
	resp, _, err := t.do(req)
	if err != nil && rank < len(t.unanswered) {
		t.unanswered[rank].Add(1)
	}
	if err != nil || resp.StatusCode != http.StatusFound {
		return outcome(resp, err), true
	}
	t.redirects.Add(1)
	if rank < len(t.seen) {
		t.seen[rank].Add(1)
	}
	return "302", false
}

// create is one POST /api/v1/links; a 201 is success, and its link must
// redirect at the end.
func (t *traffic) create(ctx context.Context) (string, bool) {
	n := t.nextURL.Add(1)
	body := fmt.Sprintf(`{"url":"https://example.org/loadtest/%d"}`, n)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.front+"/api/v1/links", bytes.NewReader([]byte(body)))
	if err != nil {
		return "error", true
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+t.key)
	resp, b, err := t.do(req)
	if err != nil || resp.StatusCode != http.StatusCreated {
		return outcome(resp, err), true
	}
	var l createdLink
	if err := json.Unmarshal(b, &l); err != nil || l.Code == "" {
		return "bad-201", true
	}
	t.mu.Lock()
	t.created = append(t.created, l)
	t.mu.Unlock()
	return "201", false
}

// read is one GET /api/v1/links/{code}: of a link created during the run
// when there is one, half the time, else of a Zipf-drawn seeded link.
func (t *traffic) read(ctx context.Context) (string, bool) {
	code := ""
	t.mu.Lock()
	if n := len(t.created); n > 0 && rand.IntN(2) == 0 {
		code = t.created[rand.IntN(n)].Code
	}
	t.mu.Unlock()
	if code == "" {
		code = t.codes.At(t.zipf.Next())
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.front+"/api/v1/links/"+code, nil)
	if err != nil {
		return "error", true
	}
	req.Header.Set("Authorization", "Bearer "+t.key)
	resp, _, err := t.do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		return outcome(resp, err), true
	}
	return "200", false
}

// createdLinks is a copy of the acknowledged creates.
func (t *traffic) createdLinks() []createdLink {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]createdLink(nil), t.created...)
}
