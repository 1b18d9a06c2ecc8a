package stack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shortify/shortify/client"
	"github.com/shortify/shortify/internal/testkit/procs"
	"github.com/shortify/shortify/internal/testkit/stack"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// Bounds of the stack test's waits.
const (
	stackStartTimeout = 2 * time.Minute
	// failoverWithin bounds a create or a redirect working again after a
	// kill (a Raft election, the front door's health checks).
	failoverWithin = 20 * time.Second
	// countedWithin bounds clicks reaching the stats database.
	countedWithin = 30 * time.Second
	// clicksPartitions is the clicks topic's partition count
	// (internal/testkit/stack/kafka.Caddyfile).
	clicksPartitions = 4
)

// TestProductionStack runs the production shape (internal/testkit/stack, the
// same as `make stack`) and does to it what production will: links made
// through every control-plane node and followed through both edges and
// the front door are counted once each; then the Raft leader is killed
// (kill -9), an edge (kill -9), a stats instance (kill -9, while its
// clicks are in flight) and the PostgreSQL replica (kill -9), one after
// the other. After each, creates and redirects must keep working through
// the front door and the survivors, and in the end every acknowledged
// link must still redirect and every click made be counted exactly once.
func TestProductionStack(t *testing.T) {
	begin := time.Now()
	bin := testenv.Shortify(t)
	built := time.Since(begin)
	ports, err := stack.FreePorts()
	if err != nil {
		t.Fatal(err)
	}
	// PostgreSQL runs as the postgres user when the tests run as root.
	dir := testenv.PublicTempDir(t, "shortify-stack-")
	ctx, cancel := context.WithTimeout(t.Context(), stackStartTimeout)
	defer cancel()
	started := time.Now()
	s, err := stack.Start(ctx, stack.Config{
		Dir: filepath.Join(dir, "stack"), Binary: bin, Caddyfiles: filepath.Join(testenv.RepoRoot(), "deploy", "caddyfiles"),
		Ports: ports, Logf: t.Logf,
	})
	if err != nil {
		t.Fatalf("start the stack: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range append(append(append(append([]*stack.Node{s.FrontDoor}, s.Nodes...), s.Edges...), s.Stats...), s.Kafka) {
				t.Logf("--- %s log (end):\n%s", n.Name, n.LogTail())
			}
		}
		if err := s.Stop(); err != nil {
			t.Errorf("stop the stack: %v", err)
		}
	})
	t.Logf("stack up after %v (binary built in %v)", time.Since(started).Round(time.Millisecond), built.Round(time.Millisecond))
	c := &stackClient{t: t, s: s, counted: map[string]int64{}}
	c.waitGroup("both stats instances sharing the clicks partitions", func(parts []int) bool {
		return len(parts) == 2 && parts[0] > 0 && parts[1] > 0 && parts[0]+parts[1] == clicksPartitions
	})

	// Every control-plane node creates; both edges and the front door
	// redirect; the stats count each click once.
	for _, n := range s.Nodes {
		c.create(n.URL)
	}
	c.create(s.FrontDoor.URL)
	c.followAll(s.FrontDoor, s.Edges[0], s.Edges[1])
	c.waitCounted("the first clicks")
	c.checkNoClusterRoutes()
	c.checkThreatFeed()
	c.checkSafetyAtEveryEdge()
	c.checkCustomDomain()
	// Prometheus scrapes it all: every dashboard query returns series,
	// every alerting rule evaluates.
	checkMonitoring(t, s, dir)

	// The Raft leader dies (kill -9): a new one is elected, and creates
	// work again through the front door and each survivor.
	leader := c.leader()
	killed := time.Now()
	leader.Kill()
	t.Logf("killed the Raft leader %s (pid %d)", leader.Name, leader.Pid())
	c.createEventually(s.FrontDoor.URL)
	t.Logf("creates work again through the front door %v after the leader died", time.Since(killed).Round(time.Millisecond))
	for _, n := range c.survivors() {
		c.createEventually(n.URL)
	}
	if l := c.leader(); l == leader {
		t.Fatalf("the killed %s still leads", l.Name)
	} else {
		t.Logf("new Raft leader: %s", l.Name)
	}
	c.followAll(s.FrontDoor, s.Edges[0], s.Edges[1])
	c.waitCounted("clicks after the leader died")

	// An edge dies (kill -9; its clicks are all counted by now): the
	// front door sends everything to the other.
	s.Edges[0].Kill()
	t.Logf("killed %s", s.Edges[0].Name)
	c.createEverywhere()
	c.followAll(s.FrontDoor, s.Edges[1])
	c.waitCounted("clicks after an edge died")

	// A stats instance dies (kill -9) while clicks are on their way: it
	// neither finishes its batch nor leaves the group, so its partitions
	// stay unread until the group's session timeout
	// (stack.StatsSessionTimeout) ends; then the other takes them over,
	// from the offsets in the stats database, and counts every click once.
	c.followAll(s.FrontDoor, s.Edges[1])
	killedStats := time.Now()
	s.Stats[0].Kill()
	t.Logf("killed %s (kill -9); session timeout %v", s.Stats[0].Name, stack.StatsSessionTimeout)
	c.createEverywhere()
	c.followAll(s.FrontDoor, s.Edges[1])
	c.waitGroup("the surviving stats instance holding every partition", func(parts []int) bool {
		return len(parts) == 1 && parts[0] == clicksPartitions
	})
	tookOver := time.Since(killedStats)
	c.waitCounted("clicks after a stats instance died")
	counted := time.Since(killedStats)
	t.Logf("stats takeover after kill -9: every partition held by the survivor after %v, every click counted after %v",
		tookOver.Round(time.Millisecond), counted.Round(time.Millisecond))
	if tookOver > stack.StatsSessionTimeout+failoverWithin {
		t.Errorf("the survivor took the partitions over %v after the kill, want within the session timeout %v + %v",
			tookOver, stack.StatsSessionTimeout, failoverWithin)
	}
	if s.Stats[0].Running() {
		t.Errorf("%s still runs after kill -9", s.Stats[0].Name)
	}

	// The replica dies (kill -9): the edges read from the primary.
	s.Replica.Kill()
	t.Logf("killed the PostgreSQL replica")
	c.createEverywhere()

	// Nothing acknowledged is lost: every link redirects, through the
	// front door and the surviving edge, and every click is counted once.
	c.followAll(s.FrontDoor, s.Edges[1])
	c.waitCounted("every click at the end")
	c.waitNoLag(s.Stats[1])
	t.Logf("%d links, %d clicks counted exactly; whole test %v", len(c.links), c.total(), time.Since(begin).Round(time.Millisecond))
}

// stackClient drives the stack and remembers what it was promised: the
// links the API acknowledged and the clicks whose redirects it got.
type stackClient struct {
	t       *testing.T
	s       *stack.Stack
	links   []link
	counted map[string]int64 // code → redirects answered
}

func (c *stackClient) do(method, url, body string) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(c.t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("X-Api-Key", c.s.APIKey)
	resp, err := noFollow.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

// checkNoClusterRoutes: the node-to-node route that applies Raft commands
// (an AddKey here, with the admin key and the old cluster-secret header)
// is not served through the front door nor on any node's public API: 404,
// and the key ring keeps its size. Members call it on their internal
// listeners only, with mutual TLS (issue 12).
func (c *stackClient) checkNoClusterRoutes() {
	c.t.Helper()
	keys := func() int {
		resp, body, err := c.do("GET", c.s.FrontDoor.URL+"/api/v1/admin/keys", "")
		if err != nil || resp.StatusCode != http.StatusOK {
			c.t.Fatalf("list keys: %v %s", err, body)
		}
		var list struct {
			Keys []json.RawMessage `json:"keys"`
		}
		if err := json.Unmarshal(body, &list); err != nil {
			c.t.Fatalf("list keys: %v: %s", err, body)
		}
		return len(list.Keys)
	}
	before := keys()
	apply := `{"type":8,"command":{"key":{"id":"AAAAAAAAAAAA","name":"intruder","role":"admin","hash":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","created_ms":1}}}`
	for _, base := range append([]string{c.s.FrontDoor.URL}, nodeURLs(c.s.Nodes)...) {
		req, err := http.NewRequestWithContext(c.t.Context(), "POST", base+"/api/v1/cluster/apply", strings.NewReader(apply))
		if err != nil {
			c.t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Api-Key", c.s.APIKey)
		req.Header.Set("X-Shortify-Cluster-Secret", "anything")
		resp, err := noFollow.Do(req)
		if err != nil {
			c.t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			c.t.Errorf("POST %s/api/v1/cluster/apply: %d, want 404: node-to-node routes must not be public", base, resp.StatusCode)
		}
	}
	if after := keys(); after != before {
		c.t.Fatalf("the key ring went from %d to %d keys", before, after)
	}
}

// checkThreatFeed creates a link to the stack's threat feed's domain
// through the front door: the leader loads the feed
// (SHORTIFY_THREAT_FEED in the role Caddyfile) and every node refuses the
// target within a refresh.
func (c *stackClient) checkThreatFeed() {
	c.t.Helper()
	body := `{"url":"https://` + stack.ThreatFeedDomain + `/login"}`
	ctx, cancel := context.WithTimeout(c.t.Context(), time.Minute)
	defer cancel()
	// Twice a second: each 201 (a node whose set has not reloaded yet; the
	// feed is read at the leadership's start, sets poll every 15 s) is a
	// link made.
	err := procs.Poll(ctx, "the threat feed to refuse a create", 500*time.Millisecond, nil, func(context.Context) error {
		resp, got, err := c.do("POST", c.s.FrontDoor.URL+"/api/v1/links", body)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(got), `threat feed \"local\"`) {
			return fmt.Errorf("%d %s", resp.StatusCode, got)
		}
		return nil
	})
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Log("the threat feed refuses creates")
}

// checkSafetyAtEveryEdge takes a link down and blocks another's domain
// through the front door's API, and follows both through the front door
// and each edge: the takedown answers 451 everywhere within the
// invalidation bound (a link event evicts it from every L1), the block
// answers the interstitial everywhere within a minute (each edge's
// block set reloads from the database); lifting both restores the
// redirects.
func (c *stackClient) checkSafetyAtEveryEdge() {
	c.t.Helper()
	api := c.s.FrontDoor.URL + "/api/v1"
	mk := func(target string) string {
		resp, body, err := c.do("POST", api+"/links", `{"url":"`+target+`"}`)
		if err != nil || resp.StatusCode != http.StatusCreated {
			c.t.Fatalf("create %s: %v %s", target, err, body)
		}
		var l link
		if err := json.Unmarshal(body, &l); err != nil {
			c.t.Fatal(err)
		}
		return l.Code
	}
	taken, blocked := mk("https://example.com/stack/takedown"), mk("https://blocked.stack.example/page")
	via := []*stack.Node{c.s.FrontDoor, c.s.Edges[0], c.s.Edges[1]}
	// Every edge holds both in its L1 first, so that what follows is an
	// eviction and a reload, not a first lookup.
	c.waitStatus(via, taken, http.StatusFound, time.Minute)
	c.waitStatus(via, blocked, http.StatusFound, time.Minute)

	admin := func(method, path, body string, want int) {
		resp, got, err := c.do(method, api+path, body)
		if err != nil || resp.StatusCode != want {
			c.t.Fatalf("%s %s: %v %s, want %d", method, path, err, got, want)
		}
	}
	admin("POST", "/admin/links/"+taken+"/takedown", `{"reason":"stack test"}`, http.StatusOK)
	admin("PUT", "/admin/blocklist/blocked.stack.example", "", http.StatusNoContent)
	c.waitStatus(via, taken, http.StatusUnavailableForLegalReasons, 10*time.Second)
	c.waitStatus(via, blocked, http.StatusOK, time.Minute) // the interstitial
	admin("DELETE", "/admin/links/"+taken+"/takedown", "", http.StatusOK)
	admin("DELETE", "/admin/blocklist/blocked.stack.example", "", http.StatusNoContent)
	c.waitStatus(via, taken, http.StatusFound, 10*time.Second)
	c.waitStatus(via, blocked, http.StatusFound, time.Minute)
}

// waitStatus waits until GET /code answers want through every node of
// via, within bound.
func (c *stackClient) waitStatus(via []*stack.Node, code string, want int, bound time.Duration) {
	c.t.Helper()
	begin := time.Now()
	for _, n := range via {
		// Ten polls a second: faster would spend the edges' rate limit,
		// which the rest of the test shares.
		ctx, cancel := context.WithTimeout(c.t.Context(), bound-time.Since(begin))
		err := procs.Poll(ctx, fmt.Sprintf("%s/%s to answer %d", n.Name, code, want), 100*time.Millisecond, nil, func(context.Context) error {
			resp, body, err := c.do("GET", n.URL+"/"+code, "")
			switch {
			case err != nil:
				return err
			case resp.StatusCode == http.StatusOK && resp.Header.Get("Location") != "":
				c.t.Fatalf("%s/%s: an interstitial with a Location: %s", n.Name, code, resp.Header.Get("Location"))
			case resp.StatusCode != want:
				return fmt.Errorf("%d %.200s", resp.StatusCode, body)
			}
			return nil
		})
		cancel()
		if err != nil {
			c.t.Fatal(err)
		}
	}
	c.t.Logf("%s answers %d through %d nodes within %v", code, want, len(via), time.Since(begin).Round(time.Millisecond))
}

func nodeURLs(nodes []*stack.Node) []string {
	var out []string
	for _, n := range nodes {
		out = append(out, n.URL)
	}
	return out
}

// leader returns the Raft leader the running nodes agree on, waiting
// for an election up to failoverWithin.
func (c *stackClient) leader() *stack.Node {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.t.Context(), failoverWithin)
	defer cancel()
	l, err := c.s.Leader(ctx)
	if err != nil {
		c.t.Fatal(err)
	}
	return l
}

// tryCreate creates a link through base's API; the error says why not.
func (c *stackClient) tryCreate(base string) error {
	target := fmt.Sprintf("https://example.com/stack/%d", len(c.links))
	resp, body, err := c.do("POST", base+"/api/v1/links", `{"url":"`+target+`"}`)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("create through %s: %d %s", base, resp.StatusCode, body)
	}
	var l link
	if err := json.Unmarshal(body, &l); err != nil {
		return fmt.Errorf("create through %s: %w", base, err)
	}
	if l.URL != target || l.Code == "" {
		return fmt.Errorf("create through %s: got %+v", base, l)
	}
	c.links = append(c.links, l)
	return nil
}

// waitGroup waits until the stats consumer group's members hold the
// clicks partitions as ok wants (one entry per member).
func (c *stackClient) waitGroup(what string, ok func(parts []int) bool) {
	c.t.Helper()
	var parts []int
	var err error
	defer func() {
		if c.t.Failed() {
			c.t.Logf("%s: last seen %v, %v", what, parts, err)
		}
	}()
	testenv.WaitFor(c.t, what, countedWithin, func() bool {
		ctx, cancel := context.WithTimeout(c.t.Context(), 2*time.Second)
		defer cancel()
		parts, err = c.s.GroupPartitions(ctx, stack.StatsGroup, "clicks")
		return err == nil && ok(parts)
	})
	c.t.Logf("%s: partitions per member %v", what, parts)
}

// survivors are the control-plane nodes still running.
func (c *stackClient) survivors() []*stack.Node {
	var out []*stack.Node
	for _, n := range c.s.Nodes {
		if n.Running() {
			out = append(out, n)
		}
	}
	return out
}

// createEverywhere creates a link through the front door and through
// each surviving control-plane node.
func (c *stackClient) createEverywhere() {
	c.t.Helper()
	c.create(c.s.FrontDoor.URL)
	for _, n := range c.survivors() {
		c.create(n.URL)
	}
}

// create creates a link through base and fails the test if it cannot.
func (c *stackClient) create(base string) {
	c.t.Helper()
	if err := c.tryCreate(base); err != nil {
		c.t.Fatal(err)
	}
}

// createEventually creates a link through base, retrying (a new leader
// may not be elected yet) until failoverWithin.
func (c *stackClient) createEventually(base string) {
	c.t.Helper()
	var last error
	defer func() {
		if c.t.Failed() {
			c.t.Logf("last create error: %v", last)
		}
	}()
	testenv.WaitFor(c.t, "a create through "+base+" to work", failoverWithin, func() bool {
		last = c.tryCreate(base)
		return last == nil
	})
}

// followAll follows every link once through each of the nodes (the
// front door or edges): each must redirect to its target at once.
func (c *stackClient) followAll(via ...*stack.Node) {
	c.t.Helper()
	for _, n := range via {
		for _, l := range c.links {
			resp, _, err := c.do("GET", n.URL+"/"+l.Code, "")
			if err != nil {
				c.t.Fatalf("GET %s/%s: %v", n.URL, l.Code, err)
			}
			if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != l.URL {
				c.t.Fatalf("GET %s/%s (%s) = %d to %q, want 302 to %s", n.URL, l.Code, n.Name, resp.StatusCode, resp.Header.Get("Location"), l.URL)
			}
			c.counted[l.Code]++
		}
	}
}

// clicks reads a link's click total from the stats API (through the
// front door, as a dashboard user would).
func (c *stackClient) clicks(code string) (int64, error) {
	resp, body, err := c.do("GET", c.s.FrontDoor.URL+"/api/v1/stats/links/"+code, "")
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("stats of %s: %d %s", code, resp.StatusCode, body)
	}
	var st client.LinkStats
	if err := json.Unmarshal(body, &st); err != nil {
		return 0, fmt.Errorf("stats of %s: %w", code, err)
	}
	return st.Totals.Clicks, nil
}

// waitCounted waits until the stats count exactly the clicks made so far
// for every link, failing at once on a link counted more often.
func (c *stackClient) waitCounted(what string) {
	c.t.Helper()
	begin := time.Now()
	var last string
	defer func() {
		if c.t.Failed() {
			c.t.Logf("%s: last seen %s", what, last)
		}
	}()
	pending := append([]link(nil), c.links...)
	testenv.WaitFor(c.t, what+" counted", countedWithin, func() bool {
		for len(pending) > 0 {
			l := pending[0]
			got, err := c.clicks(l.Code)
			if err != nil {
				last = err.Error()
				return false
			}
			want := c.counted[l.Code]
			if got > want {
				c.t.Fatalf("%s: link %s counted %d clicks, %d made: counted twice", what, l.Code, got, want)
			}
			if got < want {
				last = fmt.Sprintf("%s: %d of %d", l.Code, got, want)
				return false
			}
			pending = pending[1:]
		}
		return true
	})
	c.t.Logf("%s: %d clicks on %d links counted exactly within %v", what, c.total(), len(c.links), time.Since(begin).Round(time.Millisecond))
}

func (c *stackClient) total() int64 {
	var n int64
	for _, v := range c.counted {
		n += v
	}
	return n
}

// waitNoLag waits until the stats instance's metrics show every clicks
// partition without lag (shortify_stats_consumer_lag, measured every few
// seconds), and events counted.
func (c *stackClient) waitNoLag(n *stack.Node) {
	c.t.Helper()
	var last string
	defer func() {
		if c.t.Failed() {
			c.t.Logf("%s metrics: last seen %s", n.Name, last)
		}
	}()
	testenv.WaitFor(c.t, n.Name+" reporting no consumer lag", countedWithin, func() bool {
		_, body, err := c.do("GET", n.Ops+"/metrics", "")
		if err != nil {
			last = err.Error()
			return false
		}
		clicks, counted := 0, false
		var lines []string
		for line := range strings.Lines(string(body)) {
			line = strings.TrimSpace(line)
			if strings.HasPrefix(line, "shortify_stats_events_counted_total{") && !strings.HasSuffix(line, " 0") {
				counted = true
			}
			if !strings.HasPrefix(line, "shortify_stats_consumer_lag{") {
				continue
			}
			lines = append(lines, line)
			if !strings.HasSuffix(line, " 0") {
				last = strings.Join(lines, "; ")
				return false
			}
			if strings.Contains(line, `topic="clicks"`) {
				clicks++
			}
		}
		last = fmt.Sprintf("%v; counted %v", lines, counted)
		return clicks == clicksPartitions && counted
	})
	c.t.Logf("%s: no consumer lag on the %d clicks partitions", n.Name, clicksPartitions)
}
