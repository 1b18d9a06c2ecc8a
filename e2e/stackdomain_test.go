package e2e

import (
	"net/http"
	"time"

	"github.com/shortify/shortify/internal/testkit/stack"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// domainGoneWithin bounds a deleted custom domain's links answering 404
// at every edge: the mirror follows the registry within 250 ms and the
// edges re-read it every domain_refresh (1 s), about 1.3 s in all
// (docs/domains.md); the rest is slack for a loaded machine.
const domainGoneWithin = 10 * time.Second

// checkCustomDomain: the stack's custom domain (stack.CustomDomain of
// the workspace stack.Workspace, verified at start) serves its link
// through the front door and both edges; a host that is neither the
// instance's nor a verified domain is 404; the same alias on the own
// host is another link; and once the domain is deleted through the API,
// its link answers 404 at both edges and the front door (the time is
// logged), while the own host's keeps redirecting.
func (c *stackClient) checkCustomDomain() {
	c.t.Helper()
	ctx := c.t.Context()
	via := []*stack.Node{c.s.FrontDoor, c.s.Edges[0], c.s.Edges[1]}
	want := func(n *stack.Node, host string, status int, location string) {
		c.t.Helper()
		got, loc, err := stack.HostGet(ctx, n.URL+"/"+stack.DemoAlias, host)
		if err != nil {
			c.t.Fatalf("%s, Host %s: %v", n.Name, host, err)
		}
		if got != status || loc != location {
			c.t.Fatalf("%s, Host %s: GET /%s = %d to %q, want %d to %q", n.Name, host, stack.DemoAlias, got, loc, status, location)
		}
	}
	// The same alias on the instance's own host: a link of its own, in
	// the default workspace.
	own := "https://example.com/stack/own-" + stack.DemoAlias
	if err := c.s.API(ctx, c.s.APIKey, "POST", "/api/v1/links", `{"url":"`+own+`","alias":"`+stack.DemoAlias+`"}`, http.StatusCreated, nil); err != nil {
		c.t.Fatal(err)
	}
	for _, n := range via {
		want(n, stack.CustomDomain, http.StatusFound, stack.DemoTarget)
		want(n, "unknown.acme.test", http.StatusNotFound, "")
		testenv.WaitFor(c.t, n.Name+": /"+stack.DemoAlias+" on the own host", failoverWithin, func() bool {
			status, loc, err := stack.HostGet(ctx, n.URL+"/"+stack.DemoAlias, "")
			return err == nil && status == http.StatusFound && loc == own
		})
	}

	if err := c.s.API(ctx, c.s.WorkspaceKey, "DELETE", "/api/v1/domains/"+stack.CustomDomain, "", http.StatusNoContent, nil); err != nil {
		c.t.Fatal(err)
	}
	deleted := time.Now()
	// One poll over every node that still answers, so that each gets
	// its own time.
	gone := map[string]time.Duration{}
	testenv.WaitFor(c.t, "the deleted "+stack.CustomDomain+" answering 404 everywhere", domainGoneWithin, func() bool {
		for _, n := range via {
			if _, ok := gone[n.Name]; ok {
				continue
			}
			if status, _, err := stack.HostGet(ctx, n.URL+"/"+stack.DemoAlias, stack.CustomDomain); err == nil && status == http.StatusNotFound {
				gone[n.Name] = time.Since(deleted).Round(time.Millisecond)
			}
		}
		return len(gone) == len(via)
	})
	for _, n := range via {
		want(n, "", http.StatusFound, own)
	}
	c.t.Logf("custom domain %s: deleted through the API, 404 after %v", stack.CustomDomain, gone)
}
