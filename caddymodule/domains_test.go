package caddymodule

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/shortify/shortify/internal/domainmirror"
	"github.com/shortify/shortify/internal/linkevents"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/testkit/kafkatest"
	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/internal/workspace"
)

// The custom domains of these tests.
const (
	ownHost   = "s.example"
	acmeHost  = "go.acme.example"
	otherHost = "go.other.example"
)

// domainBackends are the stores for the custom-domain tests: each test
// has a database of its own (the mirror is one per database).
var domainBackends = []backendCase{
	{"sqlite", sqliteDSN},
	{"postgres", func(tb testing.TB) string { return testenv.Schema(tb) }},
}

// mirrorOf opens the custom-domain mirror of dsn as the control plane's
// leader does (with its migrations), and the link store (idem).
func mirrorOf(tb testing.TB, dsn string) (domainmirror.Store, linkstore.Store) {
	tb.Helper()
	seed := seeder(tb, dsn)
	m, err := domainmirror.Open(context.Background(), dsn, true)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(m.Close)
	return m, seed
}

// setDomains replaces the mirror (as the leader does) and waits until h's
// watcher has the verified ones.
func setDomains(tb testing.TB, h *Handler, m domainmirror.Store, entries ...domainmirror.Entry) {
	tb.Helper()
	gen, _, err := m.Replace(context.Background(), entries)
	if err != nil {
		tb.Fatal(err)
	}
	h.domains.Poke()
	testenv.WaitFor(tb, "the edge loads the custom domains", 10*time.Second, func() bool {
		return h.domains.Registry().Generation() >= gen
	})
}

// hostAnswer runs GET http://host/path through h.
func hostAnswer(tb testing.TB, h *Handler, host, path string) *httptest.ResponseRecorder {
	tb.Helper()
	w, err := serve(h, "GET", "http://"+host+path, nil)
	if err != nil {
		tb.Fatalf("GET %s%s: %v", host, path, err)
	}
	return w
}

func TestNormalizeHost(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"s.example", "s.example"},
		{"s.example.", "s.example"},
		{"S.Example", "s.example"},
		{"s.example:8443", "s.example"},
		{"GO.ACME.EXAMPLE.:443", "go.acme.example"},
		{"[::1]:443", "[::1]"},
		{"[::1]", "[::1]"},
		{"127.0.0.1:80", "127.0.0.1"},
		{"", ""},
	} {
		if got := normalizeHost(c.in); got != c.want {
			t.Errorf("normalizeHost(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = normalizeHost("go.acme.example") }); n != 0 {
		t.Errorf("normalizeHost of a normal host: %v allocations", n)
	}
}

// FuzzNormalizeHost: any Host header normalises without panicking to a
// lower-case name without port or (one) trailing dot, and normalising a
// name again changes nothing, so that a host has one L1 key whatever its
// spelling.
func FuzzNormalizeHost(f *testing.F) {
	for _, s := range []string{"s.example", "GO.Acme.Example.:443", "[::1]:80", "[", ":", "a:b:c", "ex\x00ample.", "..", "É.example"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, host string) {
		got := normalizeHost(host)
		// A host with a colon left over ("a:b:c") is no name any site
		// has; only names need one spelling.
		if again := normalizeHost(got); again != got && !strings.HasSuffix(got, ".") && !strings.Contains(got, ":") {
			t.Fatalf("normalizeHost(%q) = %q, but normalizing that gives %q", host, got, again)
		}
		// ASCII only: browsers send IDNs in punycode, as the registry
		// keeps them; other bytes match no domain.
		if strings.IndexFunc(got, func(r rune) bool { return 'A' <= r && r <= 'Z' }) >= 0 {
			t.Fatalf("normalizeHost(%q) = %q is not lower case", host, got)
		}
		if strings.HasSuffix(host, ".") && !strings.HasSuffix(host, "..") && !strings.Contains(host, ":") && strings.HasSuffix(got, ".") {
			t.Fatalf("normalizeHost(%q) = %q keeps the trailing dot", host, got)
		}
	})
}

func TestL1Key(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ domain, code, key string }{
		{"", "abc", "abc"},
		{acmeHost, "abc", acmeHost + "/abc"},
	} {
		if k := l1Key(c.domain, c.code); k != c.key {
			t.Errorf("l1Key(%q, %q) = %q", c.domain, c.code, k)
		}
		if d, code := splitL1Key(c.key); d != c.domain || code != c.code {
			t.Errorf("splitL1Key(%q) = %q, %q", c.key, d, code)
		}
	}
}

func TestOwnHostSet(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		hosts []string
		ok    bool
	}{
		{nil, true},
		{[]string{"S.Example.", "localhost:8080"}, true},
		{[]string{""}, false},
		{[]string{"https://s.example"}, false},
		{[]string{"*.example"}, false},
	} {
		set, err := ownHostSet(c.hosts)
		if (err == nil) != c.ok {
			t.Errorf("ownHostSet(%q): %v", c.hosts, err)
		}
		if c.ok && len(c.hosts) > 0 {
			if _, ok := set["s.example"]; !ok {
				t.Errorf("ownHostSet(%q) = %v", c.hosts, set)
			}
		}
	}
}

// TestCustomDomains: links on the own host and on custom domains, with
// Redis, on both stores: each host resolves its own links; an unknown or
// unverified host gets 404 with no lookup at all; the host is normalised.
func TestCustomDomains(t *testing.T) {
	for _, b := range domainBackends {
		t.Run(b.name, func(t *testing.T) {
			dsn := b.dsn(t)
			m, seed := mirrorOf(t, dsn)
			own, promo, other := newCode(t, "own"), newCode(t, "promo"), newCode(t, "promo2")
			stale := newCode(t, "stale")
			create(t, seed,
				linkstore.Link{Code: own, URL: "https://example.com/own"},
				// Left on acme's domain by workspace 4, which held it before.
				linkstore.Link{Code: stale, Domain: acmeHost, WorkspaceID: 4, URL: "https://old-owner.example/"},
				linkstore.Link{Code: promo, Domain: acmeHost, WorkspaceID: 2, URL: "https://acme.example/promo"},
				linkstore.Link{Code: other, Domain: otherHost, WorkspaceID: 3, URL: "https://other.example/promo"})
			opener, count := counting()
			redisAddr, prefix := testenv.RedisAddr(t), testenv.UniquePrefix(t)
			h := provision(t, &Handler{Database: dsn, Redis: redisAddr, RedisPrefix: prefix,
				Hosts: []string{ownHost}, DomainRefresh: caddy.Duration(10 * time.Millisecond), openStore: opener})
			setDomains(t, h, m,
				domainmirror.Entry{Domain: acmeHost, WorkspaceID: 2, Verified: true},
				domainmirror.Entry{Domain: otherHost, WorkspaceID: 3, Verified: true},
				domainmirror.Entry{Domain: "pending.example", WorkspaceID: 2})

			for _, c := range []struct {
				host, path string
				status     int
				location   string
			}{
				{ownHost, "/" + own, 302, "https://example.com/own"},
				{"S.EXAMPLE.:8443", "/" + own, 302, "https://example.com/own"},
				{acmeHost, "/" + promo, 302, "https://acme.example/promo"},
				{"Go.Acme.Example.", "/" + promo, 302, "https://acme.example/promo"},
				{otherHost, "/" + other, 302, "https://other.example/promo"},
				// A link answers on its own domain only.
				{acmeHost, "/" + own, 404, ""},
				{acmeHost, "/" + other, 404, ""},
				{ownHost, "/" + promo, 404, ""},
				// A domain serves its own workspace's links only.
				{acmeHost, "/" + stale, 404, ""},
			} {
				w := hostAnswer(t, h, c.host, c.path)
				if w.Code != c.status || w.Header().Get("Location") != c.location {
					t.Errorf("GET %s%s: %d %q, want %d %q", c.host, c.path, w.Code, w.Header().Get("Location"), c.status, c.location)
				}
			}
			// The domain's link went through L2 under its domain's key.
			l2 := controlPlaneL2(t, redisAddr, prefix)
			if l, ok, err := l2.Get(context.Background(), acmeHost, promo); err != nil || !ok || l.WorkspaceID != 2 {
				t.Errorf("L2 %s/%s = %+v %v %v", acmeHost, promo, l, ok, err)
			}
			if _, ok, _ := l2.Get(context.Background(), "", promo); ok {
				t.Error("the domain's link is in L2 under the own host's key")
			}

			// Unknown and unverified hosts: 404, no cache, no store.
			before, hostsBefore := lookups(count), h.unknownHosts.Load()
			l1Before := h.stats.l1Misses.Load() + h.stats.l1Hits.Load()
			for _, host := range []string{"unknown.example", "unknown.example", "pending.example", "evil.example:80"} {
				for _, path := range []string{"/" + own, "/"} {
					if w := hostAnswer(t, h, host, path); w.Code != 404 {
						t.Errorf("GET %s%s: %d, want 404", host, path, w.Code)
					}
				}
			}
			if n := lookups(count) - before; n != 0 {
				t.Errorf("unknown hosts cost %d store lookups", n)
			}
			if n := h.stats.l1Misses.Load() + h.stats.l1Hits.Load() - l1Before; n != 0 {
				t.Errorf("unknown hosts cost %d L1 lookups", n)
			}
			if n := h.unknownHosts.Load() - hostsBefore; n != 8 {
				t.Errorf("unknown hosts counted %d, want 8", n)
			}
		})
	}
}

// TestOwnHostByDefault: without hosts, every host that is not a verified
// custom domain is the own host, as before custom domains.
func TestOwnHostByDefault(t *testing.T) {
	dsn := sqliteDSN(t)
	m, seed := mirrorOf(t, dsn)
	own, promo := newCode(t, "own"), newCode(t, "promo")
	create(t, seed,
		linkstore.Link{Code: own, URL: "https://example.com/own"},
		linkstore.Link{Code: promo, Domain: acmeHost, URL: "https://acme.example/promo"})
	h := provision(t, &Handler{Database: dsn, DomainRefresh: caddy.Duration(10 * time.Millisecond)})
	setDomains(t, h, m, domainmirror.Entry{Domain: acmeHost, WorkspaceID: 1, Verified: true})
	for _, c := range []struct {
		host, code string
		status     int
	}{
		{"anything.example", own, 302},
		{"localhost:8080", own, 302},
		{"pending.example", own, 302},
		{acmeHost, promo, 302},
		{acmeHost, own, 404},
		{"anything.example", promo, 404},
	} {
		if w := hostAnswer(t, h, c.host, "/"+c.code); w.Code != c.status {
			t.Errorf("GET %s/%s: %d, want %d", c.host, c.code, w.Code, c.status)
		}
	}
	if w := hostAnswer(t, h, "anything.example", "/"); w.Code != 200 {
		t.Errorf("GET / on the own host: %d, want the landing page", w.Code)
	}
	if n := h.unknownHosts.Load(); n != 0 {
		t.Errorf("%d unknown hosts without hosts", n)
	}
}

// TestDomainSettings: root_redirect, not_found_redirect and
// redirect_status of a custom domain.
func TestDomainSettings(t *testing.T) {
	for _, b := range domainBackends {
		t.Run(b.name, func(t *testing.T) {
			dsn := b.dsn(t)
			m, seed := mirrorOf(t, dsn)
			plain, own307 := newCode(t, "plain"), newCode(t, "own307")
			create(t, seed,
				linkstore.Link{Code: plain, Domain: acmeHost, WorkspaceID: 2, URL: "https://acme.example/plain"},
				linkstore.Link{Code: own307, Domain: acmeHost, WorkspaceID: 2, Status: 307, URL: "https://acme.example/307"},
			)
			h := provision(t, &Handler{Database: dsn, Hosts: []string{ownHost}, RootRedirect: "https://s.example/home",
				DomainRefresh: caddy.Duration(10 * time.Millisecond)})
			setDomains(t, h, m,
				domainmirror.Entry{Domain: acmeHost, WorkspaceID: 2, Verified: true, RedirectStatus: 308,
					RootRedirect: "https://acme.example/", NotFoundRedirect: "https://acme.example/missing"},
				domainmirror.Entry{Domain: otherHost, WorkspaceID: 2, Verified: true})
			for _, c := range []struct {
				host, path string
				status     int
				location   string
			}{
				{acmeHost, "/", 302, "https://acme.example/"},
				{acmeHost, "/" + plain, 308, "https://acme.example/plain"}, // the domain's status
				{acmeHost, "/" + own307, 307, "https://acme.example/307"},  // the link's own
				{acmeHost, "/nosuchcode", 302, "https://acme.example/missing"},
				{acmeHost, "/not/a/code", 302, "https://acme.example/missing"},
				{otherHost, "/", 404, ""}, // no root_redirect: not the instance's
				{otherHost, "/nosuchcode", 404, ""},
				{ownHost, "/", 302, "https://s.example/home"}, // the instance's root_redirect
				{ownHost, "/nosuchcode", 404, ""},
			} {
				w := hostAnswer(t, h, c.host, c.path)
				if w.Code != c.status || w.Header().Get("Location") != c.location {
					t.Errorf("GET %s%s: %d %q, want %d %q", c.host, c.path, w.Code, w.Header().Get("Location"), c.status, c.location)
				}
			}
			// A changed setting applies with the next load of the mirror.
			setDomains(t, h, m, domainmirror.Entry{Domain: acmeHost, WorkspaceID: 2, Verified: true})
			if w := hostAnswer(t, h, acmeHost, "/"+plain); w.Code != 302 {
				t.Errorf("after the status was reset: %d, want the default 302", w.Code)
			}
		})
	}
}

// TestDeletedDomainStops: a domain that leaves the mirror (deleted or no
// longer verified) stops answering within the bound, with its links
// cached in L1.
func TestDeletedDomainStops(t *testing.T) {
	for _, b := range domainBackends {
		t.Run(b.name, func(t *testing.T) {
			dsn := b.dsn(t)
			m, seed := mirrorOf(t, dsn)
			promo := newCode(t, "promo")
			create(t, seed, linkstore.Link{Code: promo, Domain: acmeHost, WorkspaceID: 2, URL: "https://acme.example/promo"})
			// The default refresh: the bound is what production gets.
			h := provision(t, &Handler{Database: dsn, Hosts: []string{ownHost}})
			setDomains(t, h, m, domainmirror.Entry{Domain: acmeHost, WorkspaceID: 2, Verified: true})
			if w := hostAnswer(t, h, acmeHost, "/"+promo); w.Code != 302 {
				t.Fatalf("before: %d", w.Code)
			}
			if _, _, err := m.Replace(context.Background(), []domainmirror.Entry{{Domain: acmeHost, WorkspaceID: 2}}); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			testenv.WaitFor(t, "the unverified domain stops answering", 2*DefaultDomainRefresh+time.Second, func() bool {
				return hostAnswer(t, h, acmeHost, "/"+promo).Code == 404
			})
			t.Logf("unverified domain stopped after %s", time.Since(start))
			setDomains(t, h, m, domainmirror.Entry{Domain: acmeHost, WorkspaceID: 2, Verified: true})
			if w := hostAnswer(t, h, acmeHost, "/"+promo); w.Code != 302 {
				t.Fatalf("verified again: %d", w.Code)
			}
			if _, _, err := m.Replace(context.Background(), nil); err != nil {
				t.Fatal(err)
			}
			testenv.WaitFor(t, "the deleted domain stops answering", 2*DefaultDomainRefresh+time.Second, func() bool {
				return hostAnswer(t, h, acmeHost, "/"+promo).Code == 404
			})
		})
	}
}

// TestDomainsSurviveReload: the watcher is pooled: a reload's handler
// finds it loaded, and it keeps running when the old handler is cleaned
// up.
func TestDomainsSurviveReload(t *testing.T) {
	dsn := sqliteDSN(t)
	m, seed := mirrorOf(t, dsn)
	promo := newCode(t, "promo")
	create(t, seed, linkstore.Link{Code: promo, Domain: acmeHost, WorkspaceID: 2, URL: "https://acme.example/promo"})
	cfg := func() *Handler {
		return &Handler{Database: dsn, Hosts: []string{ownHost}, DomainRefresh: caddy.Duration(10 * time.Millisecond), keySalt: t.Name()}
	}
	old := provision(t, cfg())
	setDomains(t, old, m, domainmirror.Entry{Domain: acmeHost, WorkspaceID: 2, Verified: true})
	h := provision(t, cfg())
	if h.domains != old.domains {
		t.Fatal("the reload built a second watcher")
	}
	if err := old.Cleanup(); err != nil {
		t.Fatal(err)
	}
	if w := hostAnswer(t, h, acmeHost, "/"+promo); w.Code != 302 {
		t.Fatalf("after the reload: %d", w.Code)
	}
	// Still polling: a change reaches the new handler.
	setDomains(t, h, m)
	if w := hostAnswer(t, h, acmeHost, "/"+promo); w.Code != 404 {
		t.Fatalf("after the domain left: %d", w.Code)
	}
}

// TestInvalidationByDomain: a link event's domain selects the L1 key:
// the same code on the own host and on a domain are two entries, and an
// event of one evicts that one only.
func TestInvalidationByDomain(t *testing.T) {
	t.Parallel()
	h := provision(t, &Handler{Database: sqliteDSN(t)})
	tl := &targetL1{l1: h.l1}
	for _, c := range []struct {
		name      string
		event     linkevents.Event
		own, acme bool // left in the L1
	}{
		{"own host", linkevents.Event{Type: linkevents.Updated}, false, true},
		{"custom domain", linkevents.Event{Type: linkevents.Deleted, Domain: acmeHost}, true, false},
		{"other domain", linkevents.Event{Type: linkevents.Disabled, Domain: otherHost}, true, true},
	} {
		h.l1.Set("abc", entry{state: stateFound}, "https://example.com/own")
		h.l1.Set(l1Key(acmeHost, "abc"), entry{state: stateFound}, "https://acme.example/")
		tl.apply(l1Key(c.event.Domain, "abc"), c.event)
		_, _, own := h.l1.Peek("abc")
		_, _, acme := h.l1.Peek(l1Key(acmeHost, "abc"))
		if own != c.own || acme != c.acme {
			t.Errorf("%s: own host kept %v, domain kept %v; want %v, %v", c.name, own, acme, c.own, c.acme)
		}
	}
}

// TestInvalidationOnDomain: the control plane changes a link on a custom
// domain and publishes the event (kfake); the edge, which had the link in
// L1 and Redis under the domain's key, answers the new target.
func TestInvalidationOnDomain(t *testing.T) {
	for _, b := range domainBackends {
		t.Run(b.name, func(t *testing.T) {
			k := kafkatest.StartBroker(t, 2, testClicksTopic, testLinksTopic)
			dsn := b.dsn(t)
			m, seed := mirrorOf(t, dsn)
			promo := newCode(t, "promo")
			create(t, seed, linkstore.Link{Code: promo, Domain: acmeHost, WorkspaceID: 2, URL: "https://acme.example/old"})
			redisAddr, prefix := testenv.RedisAddr(t), testenv.UniquePrefix(t)
			h := provision(t, eventsHandler(&Handler{Database: dsn, Redis: redisAddr, RedisPrefix: prefix,
				Hosts: []string{ownHost}, DomainRefresh: caddy.Duration(10 * time.Millisecond)}, k))
			setDomains(t, h, m, domainmirror.Entry{Domain: acmeHost, WorkspaceID: 2, Verified: true})
			if w := hostAnswer(t, h, acmeHost, "/"+promo); w.Header().Get("Location") != "https://acme.example/old" {
				t.Fatalf("warm-up: %d %q", w.Code, w.Header().Get("Location"))
			}
			waitConsuming(t, h)
			newURL := "https://acme.example/new"
			updated, err := seed.Update(context.Background(), acmeHost, promo, linkstore.Update{URL: &newURL})
			if err != nil {
				t.Fatal(err)
			}
			linkEvents(t, k).Publish(linkevents.NewUpdated(updated, time.Now()))
			testenv.WaitFor(t, "the edge applies the event", eventWait, func() bool {
				return hostAnswer(t, h, acmeHost, "/"+promo).Header().Get("Location") == newURL
			})
			if !h.inval.recent.has(l1Key(acmeHost, promo), time.Now().UnixNano()) {
				t.Error("the read policy does not confirm the domain's code from the primary")
			}
		})
	}
}

// TestClickEventsOnDomain: click events carry the link's workspace and
// domain, through the store and through Redis (a second edge).
func TestClickEventsOnDomain(t *testing.T) {
	k := kafkatest.StartBroker(t, 2, testClicksTopic, testLinksTopic)
	dsn := sqliteDSN(t)
	m, seed := mirrorOf(t, dsn)
	own, promo := newCode(t, "own"), newCode(t, "promo")
	create(t, seed,
		linkstore.Link{ID: 11, Code: own, URL: "https://example.com/own"},
		linkstore.Link{ID: 12, Code: promo, Domain: acmeHost, WorkspaceID: 2, URL: "https://acme.example/promo"})
	redisAddr, prefix := testenv.RedisAddr(t), testenv.UniquePrefix(t)
	edge := func(name string) *Handler {
		return provision(t, eventsHandler(&Handler{Database: dsn, Redis: redisAddr, RedisPrefix: prefix,
			Hosts: []string{ownHost}, DomainRefresh: caddy.Duration(10 * time.Millisecond), keySalt: t.Name() + name}, k))
	}
	a, b := edge("a"), edge("b")
	for _, h := range []*Handler{a, b} {
		setDomains(t, h, m, domainmirror.Entry{Domain: acmeHost, WorkspaceID: 2, Verified: true})
	}
	for _, h := range []*Handler{a, b} { // a loads from the store, b from Redis
		for _, req := range []struct{ host, code string }{{ownHost, own}, {acmeHost, promo}} {
			if w := hostAnswer(t, h, req.host, "/"+req.code); w.Code != 302 {
				t.Fatalf("GET %s/%s: %d", req.host, req.code, w.Code)
			}
		}
	}
	if b.stats.l2Hits.Load() != 2 {
		t.Fatalf("edge b had %d L2 hits, want 2", b.stats.l2Hits.Load())
	}
	got := readClicks(t, k, 4)
	want := map[string]struct {
		ws     int64
		domain string
	}{own: {workspace.DefaultID, ""}, promo: {2, acmeHost}}
	for _, e := range got {
		w, ok := want[e.Code]
		if !ok || e.Workspace != w.ws || e.Domain != w.domain {
			t.Errorf("event of %s: workspace %d, domain %q; want %+v", e.Code, e.Workspace, e.Domain, w)
		}
	}
}

// TestSameCodeOnTwoDomains: one alias on two domains is two links in
// every tier of the edge. Until the store allows it (migration 0007), the
// two links come from Redis, as the control plane writes them through.
func TestSameCodeOnTwoDomains(t *testing.T) {
	dsn := sqliteDSN(t)
	m, _ := mirrorOf(t, dsn)
	redisAddr, prefix := testenv.RedisAddr(t), testenv.UniquePrefix(t)
	l2 := controlPlaneL2(t, redisAddr, prefix)
	code := newCode(t, "promo")
	for _, l := range []linkstore.Link{
		{ID: 1, Code: code, Domain: acmeHost, WorkspaceID: 2, URL: "https://acme.example/promo"},
		{ID: 2, Code: code, Domain: otherHost, WorkspaceID: 3, URL: "https://other.example/promo", Status: 301},
	} {
		if err := l2.Set(context.Background(), l); err != nil {
			t.Fatal(err)
		}
	}
	h := provision(t, &Handler{Database: dsn, Redis: redisAddr, RedisPrefix: prefix, Hosts: []string{ownHost},
		DomainRefresh: caddy.Duration(10 * time.Millisecond)})
	setDomains(t, h, m,
		domainmirror.Entry{Domain: acmeHost, WorkspaceID: 2, Verified: true},
		domainmirror.Entry{Domain: otherHost, WorkspaceID: 3, Verified: true})
	for range 2 { // from Redis, then from L1
		for _, c := range []struct {
			host     string
			status   int
			location string
		}{
			{acmeHost, 302, "https://acme.example/promo"},
			{otherHost, 301, "https://other.example/promo"},
			{ownHost, 404, ""},
		} {
			w := hostAnswer(t, h, c.host, "/"+code)
			if w.Code != c.status || w.Header().Get("Location") != c.location {
				t.Errorf("GET %s/%s: %d %q, want %d %q", c.host, code, w.Code, w.Header().Get("Location"), c.status, c.location)
			}
		}
	}
	if hits := h.stats.l2Hits.Load(); hits != 2 {
		t.Errorf("%d L2 hits, want 2 (one per domain)", hits)
	}
}

// TestReadyWaitsForCustomDomains: an edge is not ready before its first
// load of the custom domains (it would answer their links 404), and is at
// warm_timeout when they cannot be loaded; a destroyed watcher's gate is
// gone.
func TestReadyWaitsForCustomDomains(t *testing.T) {
	t.Parallel()
	dsn := postgresDSN(t)
	mirrorOf(t, dsn) // the mirror's tables, as the control plane makes them
	reg := &warmRegistry{m: make(map[readyGate]struct{})}
	ready := &ReadyHandler{reg: reg}
	readyz := func() (int, string) {
		w := httptest.NewRecorder()
		_ = ready.ServeHTTP(w, httptest.NewRequest("GET", "/readyz", nil), nil)
		return w.Code, w.Body.String()
	}
	gate := make(chan struct{})
	loading := newDomainWatcher(domainmirror.Watch(domainmirror.WatcherConfig{
		Open: func(ctx context.Context) (domainmirror.Store, error) {
			select {
			case <-gate:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			return domainmirror.Open(ctx, dsn, false)
		},
		Every: time.Hour,
	}), reg, time.Minute)
	t.Cleanup(func() { _ = loading.Destruct() })
	if code, body := readyz(); code != http.StatusServiceUnavailable || !strings.Contains(body, "loading the custom domains") {
		t.Fatalf("readyz before the domains loaded: %d %s, want 503 saying so", code, body)
	}
	close(gate)
	testenv.WaitFor(t, "readyz 200 once the domains loaded", 10*time.Second, func() bool {
		code, _ := readyz()
		return code == http.StatusOK
	})

	down := newDomainWatcher(domainmirror.Watch(domainmirror.WatcherConfig{
		Open:  func(context.Context) (domainmirror.Store, error) { return nil, errors.New("database down") },
		Every: time.Hour,
	}), reg, 300*time.Millisecond)
	if code, _ := readyz(); code != http.StatusServiceUnavailable {
		t.Fatalf("readyz with domains that cannot load, before warm_timeout: %d, want 503", code)
	}
	testenv.WaitFor(t, "readyz 200 at warm_timeout", 10*time.Second, func() bool {
		code, _ := readyz()
		return code == http.StatusOK
	})
	_ = down.Destruct()
	reg.mu.Lock()
	n := len(reg.m)
	reg.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d gates after one watcher was destroyed, want 1", n)
	}
}
