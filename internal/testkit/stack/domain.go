package stack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/shortify/shortify/internal/testkit/procs"
)

// The stack's custom domain: a workspace of its own with a verified
// domain and a link on it, so that `make stack` shows the front door
// serving a customer's domain as production would (docs/domains.md). The
// name needs no DNS: clients send it as the Host header.
const (
	// Workspace is the customer's workspace.
	Workspace = "acme"
	// CustomDomain is its verified domain.
	CustomDomain = "go.acme.test"
	// DemoAlias is the link made on CustomDomain, to DemoTarget.
	DemoAlias  = "hello"
	DemoTarget = "https://example.com/"
)

// missPoll is how often the stack polls for an answer that is a 404 until
// it holds.
const missPoll = 250 * time.Millisecond

// ownHosts are the instance's own host names in the stack, the edges'
// `hosts` (SHORTIFY_HOSTS): the public URL's host, and the addresses the
// edges are reached at directly. Any other host that is not a verified
// custom domain gets 404.
func ownHosts() string {
	return strings.Join(append([]string{host, "localhost"}, edgeHosts...), " ")
}

// setupCustomDomain makes the workspace Workspace and its admin key
// (s.WorkspaceKey), registers CustomDomain in it and verifies it (the
// instance admin's PATCH verified:true: the name is in no DNS), makes the
// link DemoAlias on it, and waits until the front door redirects it,
// through the API as an operator would.
func (s *Stack) setupCustomDomain(ctx context.Context) error {
	// On a loaded machine an answer can come after the client gave up
	// (and the front door may send a request on), and the node that
	// serves the next request may not have applied the last one yet: the
	// workspace is sent until it exists (a 409 for its name is an
	// earlier try's), the key until a node knows the workspace (a key
	// made by a try that timed out is one more key, unused).
	if err := pollCtx(ctx, "the workspace "+Workspace, func(ctx context.Context) error {
		err := s.API(ctx, s.APIKey, "POST", "/api/v1/workspaces", `{"name":"`+Workspace+`"}`, http.StatusCreated, nil)
		if err != nil && strings.Contains(err.Error(), "409 Conflict") {
			return nil
		}
		return err
	}); err != nil {
		return err
	}
	var key struct {
		Key string `json:"key"`
	}
	if err := pollCtx(ctx, "the "+Workspace+" admin key", func(ctx context.Context) error {
		return s.API(ctx, s.APIKey, "POST", "/api/v1/admin/keys",
			`{"name":"`+Workspace+` admin","role":"admin","workspace":"`+Workspace+`"}`, http.StatusCreated, &key)
	}); err != nil {
		return err
	}
	s.WorkspaceKey = key.Key
	// Keys replicate through Raft: the front door may ask any node next.
	for _, n := range s.Nodes {
		if err := waitPoll(ctx, n, "the "+Workspace+" key", func(ctx context.Context) error {
			return s.call(ctx, n.URL, s.WorkspaceKey, "GET", "/api/v1/domains", "", http.StatusOK, nil)
		}); err != nil {
			return err
		}
	}
	if err := s.API(ctx, s.WorkspaceKey, "POST", "/api/v1/domains", `{"domain":"`+CustomDomain+`"}`, http.StatusCreated, nil); err != nil {
		return err
	}
	// The node that serves the PATCH, and then the create, looks the
	// domain up in its own copy of the registry: a follower may lag the
	// leader by a moment. (Both are idempotent until they succeed.)
	if err := pollCtx(ctx, "verifying "+CustomDomain, func(ctx context.Context) error {
		return s.API(ctx, s.APIKey, "PATCH", "/api/v1/domains/"+CustomDomain, `{"verified":true}`, http.StatusOK, nil)
	}); err != nil {
		return err
	}
	body := `{"url":"` + DemoTarget + `","alias":"` + DemoAlias + `","domain":"` + CustomDomain + `"}`
	if err := pollCtx(ctx, "the link "+CustomDomain+"/"+DemoAlias, func(ctx context.Context) error {
		return s.API(ctx, s.WorkspaceKey, "POST", "/api/v1/links", body, http.StatusCreated, nil)
	}); err != nil {
		return err
	}
	// Every edge reads the verified domain within domain_refresh. Until
	// then each try is a 404 that spends the client's miss_limit at the
	// edges (20/s): a few tries a second leave it whole for what follows.
	for _, n := range append([]*Node{s.FrontDoor}, s.Edges...) {
		if err := procs.Poll(ctx, n.Name+": "+CustomDomain+"/"+DemoAlias+" redirecting", missPoll, n.proc, func(ctx context.Context) error {
			status, loc, err := HostGet(ctx, n.URL+"/"+DemoAlias, CustomDomain)
			if err == nil && (status != http.StatusFound || loc != DemoTarget) {
				err = fmt.Errorf("%d to %q", status, loc)
			}
			return err
		}); err != nil {
			return err
		}
	}
	s.logf("custom domain %s of workspace %s: %s/%s redirects", CustomDomain, Workspace, CustomDomain, DemoAlias)
	return nil
}

// API calls the control plane's API through the front door as key: body
// is JSON (none when empty); an answer other than want is an error, and
// a 2xx answer is decoded into out unless out is nil.
func (s *Stack) API(ctx context.Context, key, method, path, body string, want int, out any) error {
	return s.call(ctx, s.FrontDoor.URL, key, method, path, body, want, out)
}

// call is API through base (a node's or the front door's URL).
func (s *Stack) call(ctx context.Context, base, key, method, path, body string, want int, out any) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, base+path, strings.NewReader(body))
	if err != nil {
		return err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %s, want %d: %s", method, path, resp.Status, want, bytes.TrimSpace(b))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return nil
}

// HostGet sends GET url with the Host header host (curl -H 'Host: …'),
// not following a redirect, and returns the status and Location.
func HostGet(ctx context.Context, url, host string) (status int, location string, err error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	req.Host = host
	resp, err := noFollow.Do(req)
	if err != nil {
		return 0, "", err
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location"), nil
}

// noFollow returns redirects as answers.
var noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// domainURLs is the custom domain's part of URLs.
func (s *Stack) domainURLs(b *strings.Builder) {
	fmt.Fprintf(b, "custom domain %s (workspace %s): curl -i -H 'Host: %s' %s/%s\n", CustomDomain, Workspace, CustomDomain, s.FrontDoor.URL, DemoAlias)
	fmt.Fprintf(b, "  its links:                            curl -H 'Authorization: Bearer %s' -d '{\"url\":\"https://example.org/\",\"domain\":\"%s\"}' %s/api/v1/links\n",
		s.WorkspaceKey, CustomDomain, s.FrontDoor.URL)
	fmt.Fprintf(b, "  an unknown host is 404:               curl -i -H 'Host: unknown.acme.test' %s/%s\n", s.FrontDoor.URL, DemoAlias)
	fmt.Fprintf(b, "%s admin API key:                     %s\n", Workspace, s.WorkspaceKey)
}
