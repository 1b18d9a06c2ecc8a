package stack_test

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/shortify/shortify/internal/testkit/procs"
	"github.com/shortify/shortify/internal/testkit/stack"
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
	// eventually is want within failoverWithin (the edges read a new
	// link from the replica, or Redis), a try every 100 ms: a 404 spends
	// the client's miss_limit at the edges (20/s).
	eventually := func(n *stack.Node, host string, status int, location string) {
		c.t.Helper()
		pctx, cancel := context.WithTimeout(ctx, failoverWithin)
		defer cancel()
		if err := procs.Poll(pctx, n.Name+": /"+stack.DemoAlias+" on host "+host, 100*time.Millisecond, nil, func(ctx context.Context) error {
			got, loc, err := stack.HostGet(ctx, n.URL+"/"+stack.DemoAlias, host)
			if err == nil && (got != status || loc != location) {
				err = fmt.Errorf("%d to %q, want %d to %q", got, loc, status, location)
			}
			return err
		}); err != nil {
			c.t.Fatal(err)
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
		eventually(n, "", http.StatusFound, own)
	}

	// A link lives on the domain: refused without delete_links.
	if err := c.s.API(ctx, c.s.WorkspaceKey, "DELETE", "/api/v1/domains/"+stack.CustomDomain, "", http.StatusConflict, nil); err != nil {
		c.t.Fatal(err)
	}
	if err := c.s.API(ctx, c.s.WorkspaceKey, "DELETE", "/api/v1/domains/"+stack.CustomDomain+"?delete_links=true", "", http.StatusNoContent, nil); err != nil {
		c.t.Fatal(err)
	}
	deleted := time.Now()
	// One poll over every node that still answers, so that each gets
	// its own time; every 100 ms, since each 404 spends the client's
	// miss_limit at the edges (20/s).
	gone := map[string]time.Duration{}
	pollCtx, cancel := context.WithTimeout(ctx, domainGoneWithin)
	defer cancel()
	if err := procs.Poll(pollCtx, "the deleted "+stack.CustomDomain+" answering 404 everywhere", 100*time.Millisecond, nil, func(ctx context.Context) error {
		for _, n := range via {
			if _, ok := gone[n.Name]; ok {
				continue
			}
			if status, _, err := stack.HostGet(ctx, n.URL+"/"+stack.DemoAlias, stack.CustomDomain); err == nil && status == http.StatusNotFound {
				gone[n.Name] = time.Since(deleted).Round(time.Millisecond)
			}
		}
		if len(gone) < len(via) {
			return fmt.Errorf("404 so far at %v", gone)
		}
		return nil
	}); err != nil {
		c.t.Fatal(err)
	}
	for _, n := range via {
		eventually(n, "", http.StatusFound, own)
	}
	c.t.Logf("custom domain %s: deleted through the API, 404 after %v", stack.CustomDomain, gone)
}
