package api_test

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/internal/targeturl"
	"github.com/shortify/shortify/internal/targeturl/targeturltest"
)

// targetsEnv is an API with the control plane's default target policy,
// resolving names through a DNS server on loopback.
func targetsEnv(t *testing.T) *env {
	t.Helper()
	r := targeturltest.DNSServer(t, map[string][]string{
		"public.example.net":   {"93.184.216.14"},
		"metadata.example.net": {"169.254.169.254"},
		"intranet.example.net": {"10.1.2.3"},
		"self.example.net":     {"127.0.0.1"},
		"sho.rt":               {"198.51.100.9"}, // public_url's host, behind a load balancer
	})
	return newEnv(t, backends(t)["sqlite"](t), api.Config{PublicURL: "https://sho.rt", Targets: targeturl.Policy{
		OwnHosts:         []string{"s.example"},
		OwnAddrs:         []netip.Prefix{netip.MustParsePrefix("203.0.113.7/32")},
		RefusePrivate:    true,
		ShortenerDomains: targeturl.DefaultShortenerDomains,
		RefuseLookalike:  true,
		Resolver:         r,
		ResolveTimeout:   time.Second,
	}})
}

// refusedTargets holds one target per class the API refuses, with the
// words its 400 must say.
var refusedTargets = map[string]struct{ url, reason string }{
	"loop literal":      {"http://127.0.0.1:8080/x", "would loop"},
	"loop short form":   {"http://127.1:8080/x", "would loop"},
	"loop decimal":      {"http://2130706433/x", "would loop"},
	"loop IPv6":         {"http://[::1]:8080/x", "would loop"},
	"loop unspecified":  {"http://0.0.0.0:8080/x", "would loop"},
	"loop own address":  {"http://203.0.113.7/x", "address of this shortener"},
	"loop public host":  {"https://sho.rt/abc", "this shortener"},
	"loop own domain":   {"https://www.s.example/abc", "this shortener"},
	"loop by name":      {"https://self.example.net/", "resolves to 127.0.0.1"},
	"loop public addr":  {"http://198.51.100.9/x", "198.51.100.9 is an address of this shortener"},
	"private":           {"http://10.0.0.1/", "private address"},
	"private octal":     {"http://012.0.0.1/", "private address"},
	"private hex":       {"http://0xc0.0xa8.1.1/", "private address"},
	"metadata":          {"http://169.254.169.254/latest/", "link-local"},
	"mapped IPv6":       {"http://[::ffff:169.254.169.254]/", "link-local"},
	"unique-local IPv6": {"http://[fd00::1]/", "unique-local"},
	"multicast":         {"http://224.0.0.251/", "multicast"},
	"private by name":   {"https://intranet.example.net/wiki", "resolves to 10.1.2.3, a private address"},
	"metadata by name":  {"https://metadata.example.net/", "resolves to 169.254.169.254"},
	"other shortener":   {"https://bit.ly/3abc", "is a URL shortener"},
	"mixed scripts":     {"https://pаypal.com/login", "mixes the scripts Cyrillic+Latin"},
	"confusable":        {"https://аррӏе.com/", "looks like the Latin name"},
}

// TestRefusedTargets: create, update and bulk create answer 400 with
// field url and the reason, for every class of refused target, and store
// nothing.
func TestRefusedTargets(t *testing.T) {
	e := targetsEnv(t)
	l := e.mustCreate(t, `{"url":"https://public.example.net/a"}`)
	for name, tt := range refusedTargets {
		t.Run(name, func(t *testing.T) {
			body := fmt.Sprintf(`{"url":%q}`, tt.url)
			p := wantProblem(t, e.do(t, "POST", "/api/v1/links", "application/json", body), http.StatusBadRequest, tt.reason)
			if p.Field != "url" {
				t.Fatalf("create: field %q, want url", p.Field)
			}
			p = wantProblem(t, e.do(t, "PATCH", "/api/v1/links/"+l.Code, "application/json", body), http.StatusBadRequest, tt.reason)
			if p.Field != "url" {
				t.Fatalf("update: field %q, want url", p.Field)
			}
			w := e.do(t, "POST", "/api/v1/links/bulk", "application/json", `{"links":[`+body+`,{"url":"https://public.example.net/b"}]}`)
			resp := decode[api.BulkResponse](t, w)
			if w.Code != http.StatusOK || resp.Created != 1 || resp.Results[0].Status != http.StatusBadRequest ||
				resp.Results[0].Error.Field != "url" || !strings.Contains(resp.Results[0].Error.Detail, tt.reason) {
				t.Fatalf("bulk: %d %s", w.Code, w.Body.String())
			}
		})
	}
	got := decode[api.Link](t, e.do(t, "GET", "/api/v1/links/"+l.Code, "", ""))
	if got.URL != "https://public.example.net/a" {
		t.Fatalf("refused updates changed the target to %q", got.URL)
	}
}

// TestTargetsShownInPunycode: an IDN host is stored and returned in its
// ASCII (punycode) form, so a look-alike allowed by configuration is still
// visible for what it is.
func TestTargetsShownInPunycode(t *testing.T) {
	e := newEnv(t, backends(t)["sqlite"](t), api.Config{PublicURL: "https://sho.rt"})
	for in, want := range map[string]string{
		"https://bücher.example/ä": "https://xn--bcher-kva.example/%C3%A4",
		"https://pаypal.com/login": "https://xn--pypal-4ve.com/login",
	} {
		l := e.mustCreate(t, fmt.Sprintf(`{"url":%q}`, in))
		if l.URL != want {
			t.Errorf("create %s: url %q, want %q", in, l.URL, want)
		}
		if got := decode[api.Link](t, e.do(t, "GET", "/api/v1/links/"+l.Code, "", "")); got.URL != want {
			t.Errorf("get %s: url %q, want %q", in, got.URL, want)
		}
	}
}
