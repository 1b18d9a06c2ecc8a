package edge

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shortify/shortify/internal/apikey"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// controlPlaneCaddyfile is a control-plane node's config:
// deploy/caddyfiles/controlplane.Caddyfile's shortify app as a cluster of
// one (no cluster TLS: no Raft port, no internal listener), its links in
// the test's PostgreSQL (the edge's link database) and its link events on
// the test's broker, the API on a port of its own, an ops server with
// /metrics and /healthz, and the admin endpoint (reloads, profiles).
const controlPlaneCaddyfile = `{
	admin %[1]s
	default_bind 127.0.0.1
	auto_https off
	persist_config off
	metrics
	shortify {
		data_dir %[4]s
		node_id node1
		raft_bind %[5]s
		database {$SHORTIFY_DATABASE_URL}
		public_url http://127.0.0.1:%[2]d
		kafka_brokers %[6]s
		link_events_topic shortify.link-events
		initial_api_key {env.SHORTIFY_INITIAL_API_KEY}
		anonymous_create off
	}
}

http://:%[2]d {
	@api path /api/*
	shortify_api @api
}

http://:%[3]d {
	metrics /metrics
	respond /healthz "ok" 200
}
`

// cpProc is a running control-plane node.
type cpProc struct {
	*proc
	// URL is its API's base, Key an admin API key.
	URL, Key string
	client   *http.Client
}

// startControlPlane starts a control-plane node on the link database dsn
// with its link events on broker, and waits until its API is ready.
func startControlPlane(t *testing.T, dsn, broker string) *cpProc {
	t.Helper()
	dir := t.TempDir()
	k, err := apikey.New()
	if err != nil {
		t.Fatal(err)
	}
	admin := testenv.FreeAddr(t)
	api, ops := freePort(t), freePort(t)
	conf := filepath.Join(dir, "Caddyfile")
	text := fmt.Sprintf(controlPlaneCaddyfile, admin, api, ops, filepath.Join(dir, "data"), testenv.FreeAddr(t), broker)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startProc(t, "control plane", dir, conf, fmt.Sprintf("http://127.0.0.1:%d", ops), "http://"+admin,
		"SHORTIFY_DATABASE_URL="+dsn, "SHORTIFY_INITIAL_API_KEY="+k.Secret)
	cp := &cpProc{proc: p, URL: fmt.Sprintf("http://127.0.0.1:%d", api), Key: k.Secret, client: newClient()}
	testenv.WaitFor(t, "the control plane's API ready", procStartTimeout, func() bool {
		status, _, _, err := cp.call(t.Context(), cp.client, http.MethodGet, "/api/v1/readyz", "")
		return err == nil && status == http.StatusOK
	})
	return cp
}

// call sends one API request with the admin key through client and
// returns the status, the Retry-After header and the body.
func (c *cpProc) call(ctx context.Context, client *http.Client, method, path, body string) (int, string, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.URL+path, strings.NewReader(body))
	if err != nil {
		return 0, "", nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+c.Key)
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Retry-After"), b, err
}

// apiLoad creates links and reads them back through a control plane's
// API as a client would: a 503 with Retry-After is sent again after the
// seconds it says, and so is a request whose connection was cut before
// any answer (closedBeforeAnswer), on a new connection, for up to
// retryFor from the first cut in a row.
type apiLoad struct {
	cp   *cpProc
	next atomic.Uint64
	run  string // keeps the targets of a run apart from any other's

	mu         sync.Mutex
	acked      map[string]string // code → target, of the creates answered 201
	codes      []string          // the same codes, for reads
	refused    int               // 503s, each with Retry-After, sent again
	noRetry    int               // 503s without Retry-After (none may be)
	retried    int               // sends again after a connection cut before any answer
	unanswered int               // requests that got no answer in the end
	errs       []string          // the first few unexpected answers and errors
}

func newAPILoad(cp *cpProc) *apiLoad {
	return &apiLoad{cp: cp, acked: make(map[string]string), run: strconv.FormatInt(time.Now().UnixNano(), 36)}
}

// apiTimeout bounds one API request of the load with its retries: a
// reload makes a request wait for the new config's app to start
// (controlplane.DefaultStartWait, 10 s), and a 503 asks for a retry 2 s
// later.
const apiTimeout = 30 * time.Second

// send makes one request, retried as apiLoad says, and returns the final
// status and body (0 when there was no answer). As with the redirects,
// the load's own context is not used, so that Stop never cuts a create
// off after the node has made the link.
func (a *apiLoad) send(ctx context.Context, method, path, body string) (int, []byte) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), apiTimeout)
	defer cancel()
	var cutSince time.Time // the first of the cuts in a row
	client := a.cp.client
	for {
		status, retryAfter, b, err := a.cp.call(ctx, client, method, path, body)
		client = a.cp.client
		if err != nil && closedBeforeAnswer(err) {
			client = resendClient
			if cutSince.IsZero() {
				cutSince = time.Now()
			}
		}
		switch {
		case err != nil && closedBeforeAnswer(err) && time.Since(cutSince) < retryFor:
			a.count(&a.retried)
			continue
		case err != nil:
			a.count(&a.unanswered)
			a.note(fmt.Sprintf("%s %s: %v", method, path, err))
			return 0, nil
		case status != http.StatusServiceUnavailable:
			return status, b
		}
		secs, perr := strconv.Atoi(retryAfter)
		if perr != nil || secs <= 0 {
			a.count(&a.noRetry)
			a.note(fmt.Sprintf("%s %s: 503 with Retry-After %q: %.200s", method, path, retryAfter, b))
			return status, b
		}
		a.count(&a.refused)
		cutSince = time.Time{}
		wait := time.NewTimer(time.Duration(secs) * time.Second) // as the server asks
		select {
		case <-wait.C:
		case <-ctx.Done():
			wait.Stop()
			a.count(&a.unanswered)
			return 0, nil
		}
	}
}

func (a *apiLoad) count(n *int) {
	a.mu.Lock()
	*n++
	a.mu.Unlock()
}

func (a *apiLoad) note(s string) {
	a.mu.Lock()
	if len(a.errs) < 10 {
		a.errs = append(a.errs, s)
	}
	a.mu.Unlock()
}

// create is a loadgen.Request: one create of a target of its own.
func (a *apiLoad) create(ctx context.Context) (string, bool) {
	target := fmt.Sprintf("https://example.com/f08/%s/%d", a.run, a.next.Add(1))
	status, b := a.send(ctx, http.MethodPost, "/api/v1/links", `{"url":"`+target+`"}`)
	if status != http.StatusCreated {
		if status != 0 {
			a.note(fmt.Sprintf("create %s: %d %.200s", target, status, b))
		}
		return strconv.Itoa(status), true
	}
	var l struct {
		Code string `json:"code"`
		URL  string `json:"url"`
	}
	if err := json.Unmarshal(b, &l); err != nil || l.Code == "" || l.URL != target {
		a.note(fmt.Sprintf("create %s: answered %.200s (%v)", target, b, err))
		return "bad", true
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, dup := a.acked[l.Code]; dup {
		a.note("code " + l.Code + " answered twice")
		return "duplicate", true
	}
	a.acked[l.Code] = target
	a.codes = append(a.codes, l.Code)
	return "201", false
}

// read is a loadgen.Request: one read of a link created before.
func (a *apiLoad) read(ctx context.Context) (string, bool) {
	a.mu.Lock()
	if len(a.codes) == 0 {
		a.mu.Unlock()
		return "none yet", false
	}
	code := a.codes[rand.IntN(len(a.codes))]
	target := a.acked[code]
	a.mu.Unlock()
	status, b := a.send(ctx, http.MethodGet, "/api/v1/links/"+code, "")
	var l struct {
		URL string `json:"url"`
	}
	if status != http.StatusOK || json.Unmarshal(b, &l) != nil || l.URL != target {
		a.note(fmt.Sprintf("GET %s: %d %.200s", code, status, b))
		return strconv.Itoa(status), true
	}
	return "200", false
}

// createCheck is what the acknowledged creates came to.
type createCheck struct {
	Acked, Redirected int
	// StoredTwice counts targets with more than one link: a create
	// handled although its connection was cut before any answer, then
	// sent again. DuplicateCodes counts codes answered for two creates.
	StoredTwice, DuplicateCodes int
	Refused, NoRetryAfter       int
	Retried, Unanswered         int
	Errors                      []string
}

// check follows every acknowledged code once through the edge (a 302 to
// its target) and counts, in the link database dsn, the links of this
// load's targets.
func (a *apiLoad) check(t *testing.T, dsn string, edge *edgeProc) createCheck {
	t.Helper()
	a.mu.Lock()
	acked := make(map[string]string, len(a.acked))
	for c, u := range a.acked {
		acked[c] = u
	}
	out := createCheck{Acked: len(acked), Refused: a.refused, NoRetryAfter: a.noRetry,
		Retried: a.retried, Unanswered: a.unanswered, Errors: append([]string(nil), a.errs...)}
	a.mu.Unlock()
	client := newClient()
	defer client.CloseIdleConnections()
	for code, target := range acked {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, edge.URL+"/"+code, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Errorf("GET /%s on the edge: %v", code, err)
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusFound && resp.Header.Get("Location") == target {
			out.Redirected++
		} else if len(out.Errors) < 10 {
			out.Errors = append(out.Errors, fmt.Sprintf("GET /%s on the edge: %d to %q, want 302 to %s", code, resp.StatusCode, resp.Header.Get("Location"), target))
		}
	}
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(t.Context()))
	rows, err := conn.Query(t.Context(),
		`SELECT url, count(*) FROM links WHERE url LIKE $1 GROUP BY url HAVING count(*) > 1`,
		"https://example.com/f08/"+a.run+"/%")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		out.StoredTwice++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, e := range out.Errors {
		if strings.Contains(e, "answered twice") {
			out.DuplicateCodes++
		}
	}
	return out
}
