package caddymodule

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/shortify/shortify/internal/geoip/geoiptest"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/smartlink"
)

// ask runs one request through h with headers (name, value pairs) from
// the peer 192.0.2.1 (httptest's), which the tests trust as a proxy.
func ask(h *Handler, method, target string, hdr ...string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	if err := h.ServeHTTP(w, r, new(nextHandler)); err != nil {
		// Caddy writes a handler error's status; so does the recorder here.
		w.Code = statusOf(err)
		w.Body.WriteString(err.Error())
	}
	return w
}

// Headers of the tests' visitors.
const (
	uaIPhone  = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1"
	uaDesktop = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	uaSlack   = "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"
)

// smartHandler provisions a handler on dsn that believes country_header
// from httptest's peer, on a clock the test moves.
func smartHandler(t *testing.T, dsn string, clk *fakeClock) *Handler {
	t.Helper()
	h := &Handler{Database: dsn, CountryHeader: "CF-IPCountry",
		TrustedProxies: []string{"192.0.2.0/24"}, VisitorKey: "test visitor key"}
	if clk != nil {
		h.clock = clk
	}
	return provision(t, h)
}

// TestSmartTargets is the table of smart links' answers to people:
// rules by device, OS, country, language, query and time, forwarded
// queries, expired_url and the Cache-Control of each.
func TestSmartTargets(t *testing.T) {
	t.Parallel()
	for _, bc := range backends {
		t.Run(bc.name, func(t *testing.T) {
			t.Parallel()
			dsn := bc.dsn(t)
			clk := newFakeClock()
			now := clk.Now().UTC()
			code := func(tag string) string { return newCode(t, tag) }
			cRules, cFwd, cFwdOver, cExpired, cDisabled, cExpiredNoURL, cCache, c301 :=
				code("rules"), code("fwd"), code("fwdover"), code("exp"), code("dis"), code("expnourl"), code("cache"), code("s301")
			rules := []smartlink.Rule{
				{When: smartlink.Conditions{Device: []string{"mobile"}, OS: []string{"ios"}}, URL: "https://example.com/ios"},
				{When: smartlink.Conditions{Country: []string{"DE", "AT"}}, URL: "https://example.de/"},
				{When: smartlink.Conditions{Language: []string{"fr"}}, URL: "https://example.fr/"},
				{When: smartlink.Conditions{Query: map[string]string{"ref": "news"}}, URL: "https://example.com/news"},
				{When: smartlink.Conditions{After: now.Add(time.Hour), Before: now.Add(2 * time.Hour)}, URL: "https://example.com/launch"},
			}
			create(t, seeder(t, dsn),
				linkstore.Link{Code: cRules, URL: "https://example.com/default", Smart: smartlink.Options{Rules: rules}},
				linkstore.Link{Code: cFwd, URL: "https://example.com/f?a=1", Smart: smartlink.Options{ForwardQuery: true}},
				linkstore.Link{Code: cFwdOver, URL: "https://example.com/f?a=1", Smart: smartlink.Options{ForwardQuery: true, QueryOverride: true}},
				linkstore.Link{Code: cExpired, URL: "https://example.com/e", ExpiresAt: now.Add(-time.Minute), Smart: smartlink.Options{ExpiredURL: "https://example.com/over"}},
				linkstore.Link{Code: cDisabled, URL: "https://example.com/d", Disabled: true, Smart: smartlink.Options{ExpiredURL: "https://example.com/paused"}},
				linkstore.Link{Code: cExpiredNoURL, URL: "https://example.com/e", ExpiresAt: now.Add(-time.Minute), Smart: smartlink.Options{ForwardQuery: true}},
				linkstore.Link{Code: cCache, URL: "https://example.com/cdn", Smart: smartlink.Options{CacheMaxAge: 600}},
				linkstore.Link{Code: c301, URL: "https://example.com/301", Status: 301, Smart: smartlink.Options{ForwardQuery: true}},
			)
			h := smartHandler(t, dsn, clk)

			tests := []struct {
				name, method, path string
				hdr                []string
				status             int
				location, cc       string
			}{
				{"no rule holds", "GET", "/" + cRules, nil, 302, "https://example.com/default", "no-store"},
				{"device and os", "GET", "/" + cRules, []string{"User-Agent", uaIPhone}, 302, "https://example.com/ios", "no-store"},
				{"desktop is not ios", "GET", "/" + cRules, []string{"User-Agent", uaDesktop}, 302, "https://example.com/default", "no-store"},
				{"country", "GET", "/" + cRules, []string{"CF-IPCountry", "at"}, 302, "https://example.de/", "no-store"},
				{"other country", "GET", "/" + cRules, []string{"CF-IPCountry", "US"}, 302, "https://example.com/default", "no-store"},
				{"first rule wins", "GET", "/" + cRules, []string{"User-Agent", uaIPhone, "CF-IPCountry", "DE"}, 302, "https://example.com/ios", "no-store"},
				{"language by q", "GET", "/" + cRules, []string{"Accept-Language", "en;q=0.5, fr-CA;q=0.9"}, 302, "https://example.fr/", "no-store"},
				{"language not first", "GET", "/" + cRules, []string{"Accept-Language", "en, fr;q=0.8"}, 302, "https://example.com/default", "no-store"},
				{"query", "GET", "/" + cRules + "?ref=news", nil, 302, "https://example.com/news", "no-store"},
				{"query other value", "GET", "/" + cRules + "?ref=ads", nil, 302, "https://example.com/default", "no-store"},
				{"forward query", "GET", "/" + cFwd + "?b=2&a=9", nil, 302, "https://example.com/f?a=1&b=2", "no-store"},
				{"forward no query", "GET", "/" + cFwd, nil, 302, "https://example.com/f?a=1", "no-store"},
				{"forward override", "GET", "/" + cFwdOver + "?a=9", nil, 302, "https://example.com/f?a=9", "no-store"},
				{"expired to expired_url", "GET", "/" + cExpired, nil, 302, "https://example.com/over", "no-store"},
				{"HEAD expired", "HEAD", "/" + cExpired, nil, 302, "https://example.com/over", "no-store"},
				{"disabled to expired_url", "GET", "/" + cDisabled, nil, 302, "https://example.com/paused", "no-store"},
				{"expired without expired_url", "GET", "/" + cExpiredNoURL, nil, 410, "", "no-store"},
				{"cache_max_age", "GET", "/" + cCache, nil, 302, "https://example.com/cdn", "public, max-age=600"},
				{"smart 301 is not cached", "GET", "/" + c301, nil, 301, "https://example.com/301", "no-store"},
				{"POST to a link without password", "POST", "/" + cRules, nil, 299, "", ""},
			}
			for _, tt := range tests {
				w := ask(h, tt.method, tt.path, tt.hdr...)
				if w.Code != tt.status || w.Header().Get("Location") != tt.location || w.Header().Get("Cache-Control") != tt.cc {
					t.Errorf("%s: %d, Location %q, Cache-Control %q; want %d, %q, %q", tt.name,
						w.Code, w.Header().Get("Location"), w.Header().Get("Cache-Control"), tt.status, tt.location, tt.cc)
				}
			}

			// The time window: the launch rule holds from After to Before.
			for _, step := range []struct {
				advance time.Duration
				want    string
			}{{time.Hour, "https://example.com/launch"}, {time.Hour, "https://example.com/default"}} {
				clk.Advance(step.advance)
				if w := ask(h, "GET", "/"+cRules); w.Header().Get("Location") != step.want {
					t.Errorf("at +%s: Location %q, want %q", time.Duration(clk.NowNano()-now.UnixNano()), w.Header().Get("Location"), step.want)
				}
			}
		})
	}
}

// TestSmartSplit: a split sends each visitor to one variant, always the
// same, and the variants' shares follow the weights.
func TestSmartSplit(t *testing.T) {
	t.Parallel()
	c := newCode(t, "split")
	dsn := seededDSN(t, linkstore.Link{Code: c, URL: "https://example.com/", Smart: smartlink.Options{
		Targets: []smartlink.Target{{URL: "https://a.example/", Weight: 70}, {URL: "https://b.example/", Weight: 30}},
	}})
	h := smartHandler(t, dsn, nil)
	counts := make(map[string]int)
	const visitors = 400
	for i := range visitors {
		ua := fmt.Sprintf("visitor %d", i)
		first := ask(h, "GET", "/"+c, "User-Agent", ua).Header().Get("Location")
		for range 3 {
			if again := ask(h, "GET", "/"+c, "User-Agent", ua).Header().Get("Location"); again != first {
				t.Fatalf("visitor %d: %s, then %s", i, first, again)
			}
		}
		counts[first]++
	}
	if a := counts["https://a.example/"]; a+counts["https://b.example/"] != visitors || a < 240 || a > 320 {
		t.Errorf("variants %v of %d visitors; want about 70%% a", counts, visitors)
	}
}

// TestSmartRefusedOptionURL: a URL in the options that fails the target
// gate (a row nobody validated) refuses the whole link: 410, and no
// expired_url either.
func TestSmartRefusedOptionURL(t *testing.T) {
	t.Parallel()
	h := provision(t, &Handler{Database: sqliteDSN(t)})
	for _, o := range []smartlink.Options{
		{Rules: []smartlink.Rule{{When: smartlink.Conditions{Country: []string{"DE"}}, URL: "javascript:alert(1)"}}},
		{Targets: []smartlink.Target{{URL: "https://a.example/", Weight: 50}, {URL: "https://b.example/\r\nSet-Cookie: x", Weight: 50}}},
		{ExpiredURL: "data:text/html,hi"},
	} {
		e, url := h.loaded("store", linkstore.Link{ID: 1, Code: "x", URL: "https://example.com/", Smart: o})
		if e.state != stateDisabled || e.flags != 0 || url != "" {
			t.Errorf("%+v: entry %+v, %q; want disabled, not smart, no URL", o, e, url)
		}
	}
	e, url := h.loaded("store", linkstore.Link{ID: 1, Code: "x", URL: "https://example.com/ü", Smart: smartlink.Options{ForwardQuery: true}})
	if e.state != stateFound || e.flags != flagSmart || smartlink.Compiled(url).URL() != "https://example.com/%C3%BC" {
		t.Errorf("entry %+v, URL %q; want a found smart link with its Location encoded", e, smartlink.Compiled(url).URL())
	}
}

// TestSmartPreview: link-preview crawlers get the preview page (every
// value escaped), or the neutral page for a limited or protected link
// without one; people get the redirect.
func TestSmartPreview(t *testing.T) {
	t.Parallel()
	cPrev, cPlainish, cLimited := newCode(t, "prev"), newCode(t, "noprev"), newCode(t, "limited")
	dsn := seededDSN(t,
		linkstore.Link{Code: cPrev, URL: "https://example.com/secret-target", Smart: smartlink.Options{Preview: &smartlink.Preview{
			Title: `Launch "day" <script>alert(1)</script>`, Description: "Tom & Jerry", Image: "https://img.example/a.png?x=1&y=2",
		}}},
		linkstore.Link{Code: cPlainish, URL: "https://example.com/fwd", Smart: smartlink.Options{ForwardQuery: true}},
		linkstore.Link{Code: cLimited, URL: "https://example.com/once", Smart: smartlink.Options{MaxClicks: 1}},
	)
	h := smartHandler(t, dsn, nil)

	w := ask(h, "GET", "/"+cPrev, "User-Agent", uaSlack)
	body := w.Body.String()
	if w.Code != 200 || w.Header().Get("Location") != "" || w.Header().Get("Cache-Control") != "no-store" ||
		!strings.HasPrefix(w.Header().Get("Content-Security-Policy"), "default-src 'none'") ||
		w.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("crawler: %d %v", w.Code, w.Header())
	}
	for _, want := range []string{
		`<meta property="og:title" content="Launch &#34;day&#34; &lt;script&gt;alert(1)&lt;/script&gt;">`,
		`<meta property="og:description" content="Tom &amp; Jerry">`,
		`<meta property="og:image" content="https://img.example/a.png?x=1&amp;y=2">`,
		`<meta property="og:url" content="http://example.com/` + cPrev + `">`,
		`<meta name="twitter:card" content="summary_large_image">`,
		`<meta name="twitter:image" content="https://img.example/a.png?x=1&amp;y=2">`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("preview page lacks %s:\n%s", want, body)
		}
	}
	if strings.Contains(body, "<script>") || strings.Contains(body, "secret-target") {
		t.Errorf("preview page holds a script or the target:\n%s", body)
	}
	if w := ask(h, "HEAD", "/"+cPrev, "User-Agent", uaSlack); w.Code != 200 || w.Body.Len() != 0 {
		t.Errorf("crawler HEAD: %d, %d bytes", w.Code, w.Body.Len())
	}
	if w := ask(h, "GET", "/"+cPrev, "User-Agent", uaDesktop); w.Code != 302 || w.Header().Get("Location") != "https://example.com/secret-target" {
		t.Errorf("person: %d %q", w.Code, w.Header().Get("Location"))
	}
	// A smart link with nothing to hide redirects crawlers too.
	if w := ask(h, "GET", "/"+cPlainish, "User-Agent", uaSlack); w.Code != 302 {
		t.Errorf("crawler on a link without preview or limit: %d", w.Code)
	}
	// The unfurler of a one-time link gets a page naming the short URL,
	// never the target, and the click is left for the person.
	for _, ua := range []string{uaSlack, "facebookexternalhit/1.1", "Twitterbot/1.0", "Discordbot/2.0", "WhatsApp/2.23"} {
		w := ask(h, "GET", "/"+cLimited, "User-Agent", ua)
		if w.Code != 200 || strings.Contains(w.Body.String(), "example.com/once") ||
			!strings.Contains(w.Body.String(), "<title>http://example.com/"+cLimited+"</title>") {
			t.Errorf("%s on a limited link: %d\n%s", ua, w.Code, w.Body.String())
		}
	}
	if h.stats.claimed.Load() != 0 || h.stats.claimErrors.Load() != 0 {
		t.Errorf("crawlers claimed %d clicks (%d errors)", h.stats.claimed.Load(), h.stats.claimErrors.Load())
	}
}

// statusOf is the status Caddy answers for a handler error.
func statusOf(err error) int {
	var he caddyhttp.HandlerError
	if errors.As(err, &he) {
		return he.StatusCode
	}
	return http.StatusInternalServerError
}

// TestSmartNotPOST: POSTs to plain links and unknown codes go to the next
// handler, as before smart links.
func TestSmartNotPOST(t *testing.T) {
	t.Parallel()
	c := newCode(t, "plainpost")
	h := provision(t, &Handler{Database: seededDSN(t, linkstore.Link{Code: c, URL: "https://example.com/"})})
	for _, p := range []string{"/" + c, "/" + newCode(t, "unknown"), "/", "/not%20a%20code"} {
		if w := ask(h, "POST", p); w.Code != 299 {
			t.Errorf("POST %s: %d, want the next handler's 299", p, w.Code)
		}
	}
}

// TestSmartCountryFromGeoIP: rules see the country from geoip_database,
// also without kafka_brokers; a client the database does not know has no
// country.
func TestSmartCountryFromGeoIP(t *testing.T) {
	t.Parallel()
	c := newCode(t, "geo")
	dsn := seededDSN(t, linkstore.Link{Code: c, URL: "https://example.com/", Smart: smartlink.Options{Rules: []smartlink.Rule{
		{When: smartlink.Conditions{Country: []string{"GB"}}, URL: "https://example.co.uk/"},
	}}})
	db := geoiptest.Write(t, t.TempDir(), geoiptest.GeoLite2Country, geoNetworks)
	h := provision(t, &Handler{Database: dsn, GeoIPDatabase: db})
	for peer, want := range map[string]string{"81.2.69.142:4000": "https://example.co.uk/", "198.51.100.7:4000": "https://example.com/"} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "/"+c, nil)
		r.RemoteAddr = peer
		if err := h.ServeHTTP(w, r, new(nextHandler)); err != nil || w.Code != 302 || w.Header().Get("Location") != want {
			t.Errorf("from %s: %d %q %v; want 302 to %s", peer, w.Code, w.Header().Get("Location"), err, want)
		}
	}
}
