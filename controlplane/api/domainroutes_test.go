package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/controlplane/domainverify"
	"github.com/shortify/shortify/controlplane/fsm"
	"github.com/shortify/shortify/internal/targeturl"
	"github.com/shortify/shortify/internal/targeturl/targeturltest"
)

// domainEnv is a wsEnv whose verifier asks a real DNS server on loopback
// serving txt.
func domainEnv(t *testing.T, cfg api.Config, txt map[string][]string) *wsEnv {
	t.Helper()
	addr := targeturltest.DNSServerAddr(t, nil, txt)
	return newWSEnv(t, wsSQLite(t), cfg, api.Deps{DomainVerifier: domainverify.Verifier{Resolver: addr}})
}

// TestDomainRoutes: a workspace's admin registers a domain (a fresh
// challenge), reads, lists, changes and deletes it; the refusals.
func TestDomainRoutes(t *testing.T) {
	e := domainEnv(t, api.Config{Targets: targeturl.Policy{RefusePrivate: true}, PublicURL: "https://sho.test"}, nil)
	w := e.call(t, e.acmeAdmin, "", "POST", "/api/v1/domains", `{"domain":"Go.Acme.Example."}`)
	wantStatusOf(t, w, http.StatusCreated)
	d := decode[api.DomainInfo](t, w)
	if d.Domain != "go.acme.example" || d.Workspace != e.acme || d.Verified || d.VerifiedAt != nil || w.Header().Get("Location") != "/api/v1/domains/go.acme.example" ||
		d.Challenge.Type != "TXT" || d.Challenge.Name != "_shortify-challenge.go.acme.example" || !strings.HasPrefix(d.Challenge.Value, "shortify-verification=") {
		t.Fatalf("created %+v", d)
	}
	w = e.call(t, e.acmeAdmin, "", "POST", "/api/v1/domains", `{"domain":"links.acme.example"}`)
	if d2 := decode[api.DomainInfo](t, w); d2.Challenge.Value == d.Challenge.Value {
		t.Fatal("two domains got the same challenge")
	}
	for _, tc := range []struct {
		key, body string
		status    int
		detail    string
	}{
		{e.otherAdm, `{"domain":"go.acme.example"}`, http.StatusConflict, "taken"},
		{e.acmeAdmin, `{"domain":"go.acme.example"}`, http.StatusConflict, "already"},
		{e.acmeAdmin, `{"domain":"sho.test"}`, http.StatusConflict, "own host"},
		{e.acmeAdmin, `{"domain":"x.SHO.test"}`, http.StatusConflict, "own host"},
		{e.acmeAdmin, `{"domain":"127.0.0.1"}`, http.StatusBadRequest, "IP address"},
		{e.acmeAdmin, `{"domain":"localhost"}`, http.StatusBadRequest, "domain"},
		{e.acmeAdmin, `{"domain":"a b.example"}`, http.StatusBadRequest, "domain"},
		{e.acmeAdmin, `{}`, http.StatusBadRequest, "domain"},
		{e.acmeViewer, `{"domain":"v.acme.example"}`, http.StatusForbidden, "role admin"},
	} {
		p := wantProblem(t, e.call(t, tc.key, "", "POST", "/api/v1/domains", tc.body), tc.status, tc.detail)
		if strings.Contains(p.Detail, "acme") && tc.key == e.otherAdm {
			t.Errorf("the refusal names the holder: %q", p.Detail)
		}
	}

	// Reads: the workspace's own; another workspace's is unknown.
	w = e.call(t, e.acmeAdmin, "", "GET", "/api/v1/domains", "")
	wantStatusOf(t, w, http.StatusOK)
	if got := decode[map[string][]api.DomainInfo](t, w)["domains"]; len(got) != 2 {
		t.Fatalf("acme's domains: %+v", got)
	}
	w = e.call(t, e.otherAdm, "", "GET", "/api/v1/domains", "")
	if got := decode[map[string][]api.DomainInfo](t, w)["domains"]; len(got) != 0 {
		t.Fatalf("other's domains: %+v", got)
	}
	wantStatusOf(t, e.call(t, e.otherAdm, "", "POST", "/api/v1/domains", `{"domain":"go.other.example"}`), http.StatusCreated)
	w = e.call(t, e.root, "", "GET", "/api/v1/domains", "")
	if got := decode[map[string][]api.DomainInfo](t, w)["domains"]; len(got) != 3 {
		t.Fatalf("the instance admin's list: %+v", got)
	}
	w = e.call(t, e.root, "other", "GET", "/api/v1/domains", "")
	if got := decode[map[string][]api.DomainInfo](t, w)["domains"]; len(got) != 1 || got[0].Domain != "go.other.example" {
		t.Fatalf("the instance admin in other: %+v", got)
	}
	w = e.call(t, e.acmeAdmin, "", "GET", "/api/v1/domains/GO.acme.example", "")
	wantStatusOf(t, w, http.StatusOK)
	if got := decode[api.DomainInfo](t, w); got.Challenge != d.Challenge {
		t.Fatalf("read %+v", got)
	}
	for _, rt := range []struct{ method, path, body string }{
		{"GET", "/api/v1/domains/go.acme.example", ""},
		{"PATCH", "/api/v1/domains/go.acme.example", `{"redirect_status":302}`},
		{"DELETE", "/api/v1/domains/go.acme.example", ""},
		{"POST", "/api/v1/domains/go.acme.example/verify", ""},
	} {
		unknown := e.call(t, e.otherAdm, "", rt.method, strings.Replace(rt.path, "go.acme", "nosuch.acme", 1), rt.body)
		wantProblem(t, unknown, http.StatusNotFound, "no custom domain")
		foreign := e.call(t, e.otherAdm, "", rt.method, rt.path, rt.body)
		wantProblem(t, foreign, http.StatusNotFound, "no custom domain")
		if strings.Replace(unknown.Body.String(), "nosuch.acme", "go.acme", 1) != foreign.Body.String() {
			t.Errorf("%s %s: another workspace's domain (%s) reads unlike an unknown one (%s)", rt.method, rt.path, foreign.Body, unknown.Body)
		}
	}
	wantProblem(t, e.call(t, e.acmeAdmin, "", "GET", "/api/v1/domains/127.0.0.1", ""), http.StatusBadRequest, "not a domain")

	// Settings.
	w = e.call(t, e.acmeAdmin, "", "PATCH", "/api/v1/domains/go.acme.example", `{"root_redirect":"https://acme.example/","not_found_redirect":"https://acme.example/404","redirect_status":307}`)
	wantStatusOf(t, w, http.StatusOK)
	if got := decode[api.DomainInfo](t, w); got.RootRedirect != "https://acme.example/" || got.NotFoundRedirect != "https://acme.example/404" || got.RedirectStatus != 307 {
		t.Fatalf("patched %+v", got)
	}
	for _, tc := range []struct {
		body, field string
		status      int
	}{
		{`{"root_redirect":"ftp://acme.example/"}`, "root_redirect", http.StatusBadRequest},
		{`{"root_redirect":"/relative"}`, "root_redirect", http.StatusBadRequest},
		{`{"not_found_redirect":"https://sho.test/x"}`, "not_found_redirect", http.StatusBadRequest},
		{`{"not_found_redirect":"http://127.0.0.1/"}`, "not_found_redirect", http.StatusBadRequest},
		{`{"redirect_status":303}`, "redirect_status", http.StatusBadRequest},
		{`{"verified":false}`, "verified", http.StatusBadRequest},
		{`{"verified":true}`, "verified", http.StatusForbidden},
	} {
		p := wantProblem(t, e.call(t, e.acmeAdmin, "", "PATCH", "/api/v1/domains/go.acme.example", tc.body), tc.status, "")
		if p.Field != tc.field {
			t.Errorf("%s: field %q, want %q", tc.body, p.Field, tc.field)
		}
	}
	w = e.call(t, e.acmeAdmin, "", "PATCH", "/api/v1/domains/go.acme.example", `{"root_redirect":"","redirect_status":0}`)
	if got := decode[api.DomainInfo](t, w); got.RootRedirect != "" || got.RedirectStatus != 0 || got.NotFoundRedirect == "" {
		t.Fatalf("cleared %+v", got)
	}
	// An instance admin marks a domain verified without DNS.
	w = e.call(t, e.root, "", "PATCH", "/api/v1/domains/links.acme.example", `{"verified":true}`)
	wantStatusOf(t, w, http.StatusOK)
	if got := decode[api.DomainInfo](t, w); !got.Verified || got.VerifiedAt == nil || !e.reg.DomainVerified("links.acme.example") {
		t.Fatalf("marked verified: %+v", got)
	}
	wantStatusOf(t, e.call(t, e.acmeAdmin, "", "DELETE", "/api/v1/domains/links.acme.example", ""), http.StatusNoContent)
	if e.reg.DomainVerified("links.acme.example") {
		t.Fatal("a deleted domain is still verified")
	}
	wantProblem(t, e.call(t, e.acmeAdmin, "", "DELETE", "/api/v1/domains/links.acme.example", ""), http.StatusNotFound, "no custom domain")
	// Deleted, the name is free for another workspace.
	wantStatusOf(t, e.call(t, e.otherAdm, "", "POST", "/api/v1/domains", `{"domain":"links.acme.example"}`), http.StatusCreated)
}

// TestDomainVerify asks a real DNS server on loopback: no record and a
// wrong value are 422s that say what was expected; the right value
// verifies the domain (once: again is the same answer).
func TestDomainVerify(t *testing.T) {
	reg := newRegistry()
	ws := reg.mustWorkspace(t, "acme")
	const right, wrong = "abcdefghijklmnopqrstuvwxyz234567", "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"
	for domain, challenge := range map[string]string{"ok.acme.example": right, "wrong.acme.example": right, "none.acme.example": right} {
		if _, err := reg.AddDomain(t.Context(), fsm.AddDomain{Domain: domain, Workspace: ws, Challenge: challenge, AtMs: 1}); err != nil {
			t.Fatal(err)
		}
	}
	addr := targeturltest.DNSServerAddr(t, nil, map[string][]string{
		"_shortify-challenge.ok.acme.example":    {"v=spf1 -all", domainverify.RecordValue(right)},
		"_shortify-challenge.wrong.acme.example": {domainverify.RecordValue(wrong)},
	})
	h, err := api.New(api.Config{PublicURL: testPublicURL}, reg.deps(api.Deps{Store: wsSQLite(t), Issuer: newIssuer(t, 0),
		DomainVerifier: domainverify.Verifier{Resolver: addr}}))
	if err != nil {
		t.Fatal(err)
	}
	e := &wsEnv{h: h, reg: reg, acme: ws, acmeAdmin: reg.mint(t, "admin", ws)}
	p := wantProblem(t, e.call(t, e.acmeAdmin, "", "POST", "/api/v1/domains/none.acme.example/verify", ""), http.StatusUnprocessableEntity, "found no TXT record")
	if !strings.Contains(p.Detail, "_shortify-challenge.none.acme.example") || !strings.Contains(p.Detail, domainverify.RecordValue(right)) {
		t.Errorf("no record: %q does not say what was expected", p.Detail)
	}
	p = wantProblem(t, e.call(t, e.acmeAdmin, "", "POST", "/api/v1/domains/wrong.acme.example/verify", ""), http.StatusUnprocessableEntity, "none with that value")
	if !strings.Contains(p.Detail, domainverify.RecordValue(right)) {
		t.Errorf("wrong value: %q does not say what was expected", p.Detail)
	}
	if reg.DomainVerified("wrong.acme.example") || reg.DomainVerified("none.acme.example") {
		t.Fatal("a failed verification verified")
	}
	w := e.call(t, e.acmeAdmin, "", "POST", "/api/v1/domains/ok.acme.example/verify", "")
	wantStatusOf(t, w, http.StatusOK)
	d := decode[api.DomainInfo](t, w)
	if !d.Verified || d.VerifiedAt == nil || !reg.DomainVerified("ok.acme.example") {
		t.Fatalf("verified %+v", d)
	}
	w = e.call(t, e.acmeAdmin, "", "POST", "/api/v1/domains/ok.acme.example/verify", "")
	if again := decode[api.DomainInfo](t, w); w.Code != http.StatusOK || !again.VerifiedAt.Equal(*d.VerifiedAt) {
		t.Fatalf("verify again: %d %+v", w.Code, again)
	}
}

// TestDomainLimit: max_domains, the workspace's own or the configured
// default, is a 403 naming the limit; a deleted domain frees its place.
func TestDomainLimit(t *testing.T) {
	e := domainEnv(t, api.Config{WorkspaceDefaults: fsm.WorkspaceLimits{MaxDomains: 2}}, nil)
	for _, d := range []string{"a.acme.example", "b.acme.example"} {
		wantStatusOf(t, e.call(t, e.acmeAdmin, "", "POST", "/api/v1/domains", `{"domain":"`+d+`"}`), http.StatusCreated)
	}
	wantProblem(t, e.call(t, e.acmeAdmin, "", "POST", "/api/v1/domains", `{"domain":"c.acme.example"}`), http.StatusForbidden, "workspace acme holds 2 custom domains, its limit")
	// Other workspaces have their own count.
	wantStatusOf(t, e.call(t, e.otherAdm, "", "POST", "/api/v1/domains", `{"domain":"a.other.example"}`), http.StatusCreated)
	// The workspace's own limit wins over the default.
	wantStatusOf(t, e.call(t, e.root, "", "PATCH", "/api/v1/workspaces/acme", `{"limits":{"max_domains":3}}`), http.StatusOK)
	wantStatusOf(t, e.call(t, e.acmeAdmin, "", "POST", "/api/v1/domains", `{"domain":"c.acme.example"}`), http.StatusCreated)
	wantProblem(t, e.call(t, e.acmeAdmin, "", "POST", "/api/v1/domains", `{"domain":"d.acme.example"}`), http.StatusForbidden, "holds 3 custom domains")
	wantStatusOf(t, e.call(t, e.acmeAdmin, "", "DELETE", "/api/v1/domains/a.acme.example", ""), http.StatusNoContent)
	wantStatusOf(t, e.call(t, e.acmeAdmin, "", "POST", "/api/v1/domains", `{"domain":"d.acme.example"}`), http.StatusCreated)
}

// TestDeleteDomainWithLinks, on both stores: a domain that links live on
// is not deleted (409) unless delete_links=true, which retires them (a
// deletion event each, their aliases never issued again); links of the
// own host and of other domains stay. Otherwise a workspace that
// registered the name later would find the old links answering on it.
func TestDeleteDomainWithLinks(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			e := newWSEnv(t, open(t), api.Config{}, api.Deps{})
			for _, d := range []string{"go.acme.example", "b.acme.example"} {
				wantStatusOf(t, e.call(t, e.acmeAdmin, "", "POST", "/api/v1/domains", `{"domain":"`+d+`"}`), http.StatusCreated)
				wantStatusOf(t, e.call(t, e.root, "acme", "PATCH", "/api/v1/domains/"+d, `{"verified":true}`), http.StatusOK)
			}
			mk := func(domain, alias string) {
				body := fmt.Sprintf(`{"url":"https://example.com/%s","alias":%q,"domain":%q}`, alias, alias, domain)
				wantStatusOf(t, e.call(t, e.acmeAdmin, "", "POST", "/api/v1/links", body), http.StatusCreated)
			}
			mk("go.acme.example", "promo")
			mk("go.acme.example", "launch")
			mk("b.acme.example", "promo")
			mk("", "promo")

			wantProblem(t, e.call(t, e.acmeAdmin, "", "DELETE", "/api/v1/domains/go.acme.example", ""), http.StatusConflict, "links live on go.acme.example")
			wantProblem(t, e.call(t, e.acmeAdmin, "", "DELETE", "/api/v1/domains/go.acme.example?delete_links=maybe", ""), http.StatusBadRequest, "delete_links must be true or false")
			if !e.reg.DomainVerified("go.acme.example") {
				t.Fatal("a refused delete removed the domain")
			}
			wantStatusOf(t, e.call(t, e.acmeAdmin, "", "DELETE", "/api/v1/domains/go.acme.example?delete_links=true", ""), http.StatusNoContent)
			if e.reg.DomainVerified("go.acme.example") {
				t.Fatal("the domain is still there")
			}
			ctx := context.Background()
			for _, c := range []struct {
				domain, code string
				live         bool
			}{{"go.acme.example", "promo", false}, {"go.acme.example", "launch", false}, {"b.acme.example", "promo", true}, {"", "promo", true}} {
				_, err := e.store.Get(ctx, c.domain, c.code)
				if live := err == nil; live != c.live {
					t.Errorf("link %s/%s live = %t (%v), want %t", c.domain, c.code, live, err, c.live)
				}
			}
			// The name is free again, but its old aliases are never issued again.
			wantStatusOf(t, e.call(t, e.otherAdm, "", "POST", "/api/v1/domains", `{"domain":"go.acme.example"}`), http.StatusCreated)
			wantStatusOf(t, e.call(t, e.root, "other", "PATCH", "/api/v1/domains/go.acme.example", `{"verified":true}`), http.StatusOK)
			wantProblem(t, e.call(t, e.otherAdm, "", "POST", "/api/v1/links", `{"url":"https://example.com/","alias":"promo","domain":"go.acme.example"}`), http.StatusConflict, "never reissued")
		})
	}
}
