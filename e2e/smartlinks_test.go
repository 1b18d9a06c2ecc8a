package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	problemdoc "github.com/shortify/shortify/internal/problem"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// User agents of the visitors the smart-link tests play.
const (
	desktopUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	iphoneUA  = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
	slackUA   = "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)"
)

// TestSmartLinks is issue 16 end to end through `make run`'s Caddyfile:
// one system (the embedded default: SQLite, the edge, the API in one
// process) shared by one subtest per link field, each on links of its
// own, driven over HTTP as a browser, a script or a crawler would.
func TestSmartLinks(t *testing.T) {
	s := start(t)
	for _, tc := range []struct {
		name string
		run  func(c smartClient)
	}{
		{"password", smartPassword},
		{"max_clicks", smartMaxClicks},
		{"rules", smartRules},
		{"split", smartSplit},
		{"forward_query", smartForwardQuery},
		{"utm", smartUTM},
		{"preview", smartPreview},
		{"cache_max_age", smartCacheMaxAge},
		{"bad input changes nothing", smartBadInput},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(smartClient{t: t, s: s}) })
	}
}

// smartClient drives one subtest's requests; unlike system.request it
// fails the subtest, not the test that started the system.
type smartClient struct {
	t *testing.T
	s *system
}

// smartLink is the part of the API's link answer the tests read.
type smartLink struct {
	Code              string         `json:"code"`
	URL               string         `json:"url"`
	PasswordProtected bool           `json:"password_protected"`
	MaxClicks         int64          `json:"max_clicks"`
	UTM               map[string]any `json:"utm"`
}

// api calls the REST API with the admin key.
func (c smartClient) api(method, path, body string) (int, []byte) {
	c.t.Helper()
	resp, b := c.do(noFollow, method, path, map[string]string{"X-Api-Key": c.s.key, "Content-Type": "application/json"}, body)
	return resp.StatusCode, b
}

// create makes a link from a JSON body and fails unless it is created.
func (c smartClient) create(body string) smartLink {
	c.t.Helper()
	status, b := c.api("POST", "/api/v1/links", body)
	if status != http.StatusCreated {
		c.t.Fatalf("create %s: %d %s", body, status, b)
	}
	var l smartLink
	if err := json.Unmarshal(b, &l); err != nil {
		c.t.Fatalf("create: %v: %s", err, b)
	}
	return l
}

// link reads a link through the API, decoded into out when not nil; it
// returns the answer's bytes.
func (c smartClient) link(code string, out any) []byte {
	c.t.Helper()
	status, b := c.api("GET", "/api/v1/links/"+code, "")
	if status != http.StatusOK {
		c.t.Fatalf("GET link %s: %d %s", code, status, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatalf("GET link %s: %v: %s", code, err, b)
		}
	}
	return b
}

// visit sends a request to the edge as a desktop browser unless hdr
// names another User-Agent; it does not follow redirects unless client
// does.
func (c smartClient) visit(client *http.Client, method, path string, hdr map[string]string) (*http.Response, []byte) {
	c.t.Helper()
	h := map[string]string{"User-Agent": desktopUA, "Accept": "text/html,application/xhtml+xml"}
	for k, v := range hdr {
		h[k] = v
	}
	return c.do(client, method, path, h, "")
}

func (c smartClient) do(client *http.Client, method, path string, hdr map[string]string, body string) (*http.Response, []byte) {
	c.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(c.t.Context(), method, c.s.base+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("%s %s: reading the answer: %v", method, path, err)
	}
	return resp, b
}

// wantRedirect fails unless resp is the redirect status want (any 3xx
// when 0) to location.
func (c smartClient) wantRedirect(what string, resp *http.Response, want int, location string) {
	c.t.Helper()
	if resp.StatusCode/100 != 3 || (want != 0 && resp.StatusCode != want) || resp.Header.Get("Location") != location {
		c.t.Fatalf("%s: %d Location %q, want %d to %s", what, resp.StatusCode, resp.Header.Get("Location"), want, location)
	}
}

// location is a redirect's Location, parsed.
func (c smartClient) location(resp *http.Response) *url.URL {
	c.t.Helper()
	if resp.StatusCode/100 != 3 {
		c.t.Fatalf("%s: %d, want a redirect", resp.Request.URL, resp.StatusCode)
	}
	u, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		c.t.Fatalf("Location %q: %v", resp.Header.Get("Location"), err)
	}
	return u
}

// smartMaxClicks: three redirects, then 410; with expired_url, a 302
// there instead.
func smartMaxClicks(c smartClient) {
	t := c.t
	const target = "https://example.com/limited"
	l := c.create(`{"url":"` + target + `","max_clicks":3}`)
	if l.MaxClicks != 3 {
		t.Fatalf("created max_clicks %d, want 3", l.MaxClicks)
	}
	// HEAD claims nothing, and neither does a chat app unfurling the
	// link: it gets a page without the target, not the redirect.
	if resp, _ := c.visit(noFollow, "HEAD", "/"+l.Code, nil); resp.StatusCode/100 != 3 {
		t.Fatalf("HEAD before any click: %d", resp.StatusCode)
	}
	for range 5 {
		resp, body := c.visit(noFollow, "GET", "/"+l.Code, map[string]string{"User-Agent": slackUA})
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Location") != "" || bytes.Contains(body, []byte(target)) {
			t.Fatalf("a link-preview crawler on a click-limited link: %d Location %q, want 200 without the target: %s", resp.StatusCode, resp.Header.Get("Location"), body)
		}
	}
	for i := range 3 {
		resp, _ := c.visit(noFollow, "GET", "/"+l.Code, nil)
		c.wantRedirect(fmt.Sprintf("click %d of 3", i+1), resp, 0, target)
	}
	for _, m := range []string{"GET", "HEAD"} {
		if resp, _ := c.visit(noFollow, m, "/"+l.Code, nil); resp.StatusCode != http.StatusGone || resp.Header.Get("Location") != "" {
			t.Fatalf("%s after 3 clicks: %d Location %q, want 410", m, resp.StatusCode, resp.Header.Get("Location"))
		}
	}

	const sorry = "https://example.com/sold-out"
	e := c.create(`{"url":"` + target + `","max_clicks":3,"expired_url":"` + sorry + `"}`)
	for i := range 3 {
		resp, _ := c.visit(noFollow, "GET", "/"+e.Code, nil)
		c.wantRedirect(fmt.Sprintf("click %d of 3 (expired_url)", i+1), resp, 0, target)
	}
	for i := range 2 {
		resp, _ := c.visit(noFollow, "GET", "/"+e.Code, nil)
		c.wantRedirect(fmt.Sprintf("visit %d after the limit, with expired_url", i+1), resp, http.StatusFound, sorry)
	}
}

// smartRules: the first rule that holds picks the target, else the url.
func smartRules(c smartClient) {
	const (
		fallback = "https://example.com/everyone"
		mobile   = "https://example.com/app"
		german   = "https://example.com/de"
		fromQR   = "https://example.com/qr"
	)
	l := c.create(`{"url":"` + fallback + `","rules":[
		{"when":{"device":["mobile"]},"url":"` + mobile + `"},
		{"when":{"language":["de"]},"url":"` + german + `"},
		{"when":{"query":{"src":"qr"}},"url":"` + fromQR + `"}]}`)
	for _, tc := range []struct {
		name, path, ua, lang, want string
	}{
		{"an iPhone", "/" + l.Code, iphoneUA, "de-DE", mobile},
		{"German first", "/" + l.Code, desktopUA, "de-DE,de;q=0.9,en;q=0.5", german},
		{"German by q-value", "/" + l.Code, desktopUA, "en;q=0.4, de-AT;q=0.8, fr;q=0.1", german},
		{"the QR code's query", "/" + l.Code + "?src=qr", desktopUA, "en-GB,en;q=0.9", fromQR},
		{"another query value", "/" + l.Code + "?src=web", desktopUA, "en-GB", fallback},
		{"no rule holds", "/" + l.Code, desktopUA, "fr-FR,fr;q=0.9", fallback},
	} {
		resp, _ := c.visit(noFollow, "GET", tc.path, map[string]string{"User-Agent": tc.ua, "Accept-Language": tc.lang})
		c.wantRedirect(tc.name, resp, 0, tc.want)
		if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
			c.t.Errorf("%s: Cache-Control %q, want no-store (the answer depends on the visitor)", tc.name, cc)
		}
	}
}

// smartSplit: visitors are split between both variants, and each keeps
// the one it got.
func smartSplit(c smartClient) {
	const a, b = "https://example.com/variant-a", "https://example.com/variant-b"
	l := c.create(`{"url":"https://example.com/split","targets":[{"url":"` + a + `","weight":50},{"url":"` + b + `","weight":50}]}`)
	seen := map[string]int{}
	for i := range 40 {
		ua := fmt.Sprintf("%s visitor/%d", desktopUA, i)
		resp, _ := c.visit(noFollow, "GET", "/"+l.Code, map[string]string{"User-Agent": ua})
		first := resp.Header.Get("Location")
		if first != a && first != b {
			c.t.Fatalf("visitor %d: %d Location %q, want one of the variants", i, resp.StatusCode, first)
		}
		seen[first]++
		for j := range 3 {
			resp, _ := c.visit(noFollow, "GET", "/"+l.Code, map[string]string{"User-Agent": ua})
			if got := resp.Header.Get("Location"); got != first {
				c.t.Fatalf("visitor %d, visit %d: %q, but the first visit went to %q", i, j+2, got, first)
			}
		}
	}
	if seen[a] == 0 || seen[b] == 0 {
		c.t.Fatalf("40 visitors of a 50/50 split: %v, want both variants", seen)
	}
	c.t.Logf("40 visitors of a 50/50 split: %v", seen)

	// The stats count the clicks per variant (each visitor clicked 4
	// times), once the ingest has them.
	want := map[string]int64{"targets[0]": int64(4 * seen[a]), "targets[1]": int64(4 * seen[b])}
	var got map[string]int64
	defer func() {
		if c.t.Failed() {
			c.t.Logf("clicks per variant: %v, want %v", got, want)
		}
	}()
	testenv.WaitFor(c.t, "the stats counting the clicks per variant", 30*time.Second, func() bool {
		status, body := c.api("GET", "/api/v1/stats/links/"+l.Code+"/top/variant", "")
		if status != http.StatusOK {
			return false
		}
		var top struct {
			Items []struct {
				Value  string `json:"value"`
				Clicks int64  `json:"clicks"`
			} `json:"items"`
		}
		if err := json.Unmarshal(body, &top); err != nil {
			c.t.Fatalf("stats of %s per variant: %v: %s", l.Code, err, body)
		}
		got = map[string]int64{}
		for _, it := range top.Items {
			got[it.Value] = it.Clicks
		}
		return reflect.DeepEqual(got, want)
	})
}

// smartForwardQuery: the visitor's query joins the target's; the link's
// own parameters win unless forward_query_override.
func smartForwardQuery(c smartClient) {
	for _, tc := range []struct {
		name, body, wantA string
	}{
		{"the link's value wins", `{"url":"https://example.com/fq?a=link&keep=1#top","forward_query":true}`, "link"},
		{"forward_query_override", `{"url":"https://example.com/fq?a=link&keep=1#top","forward_query":true,"forward_query_override":true}`, "visitor"},
	} {
		l := c.create(tc.body)
		resp, _ := c.visit(noFollow, "GET", "/"+l.Code+"?a=visitor&gclid=xyz", nil)
		u := c.location(resp)
		q := u.Query()
		if u.Host != "example.com" || u.Path != "/fq" || q.Get("a") != tc.wantA || q.Get("keep") != "1" || q.Get("gclid") != "xyz" || u.Fragment != "top" {
			c.t.Errorf("%s: Location %s, want /fq with a=%s, keep=1, gclid=xyz and #top", tc.name, u, tc.wantA)
		}
	}
	plain := c.create(`{"url":"https://example.com/fq?a=link"}`)
	resp, _ := c.visit(noFollow, "GET", "/"+plain.Code+"?gclid=xyz", nil)
	if loc := resp.Header.Get("Location"); loc != "https://example.com/fq?a=link" {
		c.t.Errorf("without forward_query: Location %q, want the link's url only", loc)
	}
}

// smartUTM: utm is merged into the url at create; GET shows it and the
// redirect carries the utm_* parameters.
func smartUTM(c smartClient) {
	l := c.create(`{"url":"https://example.com/launch?ref=x&utm_source=old","utm":{"source":"newsletter","medium":"email","campaign":"spring launch"}}`)
	var got smartLink
	c.link(l.Code, &got)
	want := map[string]any{"source": "newsletter", "medium": "email", "campaign": "spring launch"}
	if !reflect.DeepEqual(got.UTM, want) {
		c.t.Errorf("GET utm %v, want %v", got.UTM, want)
	}
	resp, _ := c.visit(noFollow, "GET", "/"+l.Code, nil)
	q := c.location(resp).Query()
	if q.Get("utm_source") != "newsletter" || q.Get("utm_medium") != "email" || q.Get("utm_campaign") != "spring launch" || q.Get("ref") != "x" || len(q["utm_source"]) != 1 {
		c.t.Errorf("the redirect's query %v, want ref=x and the utm_* of the link", q)
	}
}

// smartPreview: link-preview crawlers get the OpenGraph page, people get
// the redirect.
func smartPreview(c smartClient) {
	const target = "https://example.com/article"
	l := c.create(`{"url":"` + target + `","preview":{"title":"Spring <launch> & more","description":"Everything \"new\" this spring","image":"https://example.com/card.png"}}`)
	for _, ua := range []string{slackUA, "Twitterbot/1.0", "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)"} {
		resp, body := c.visit(noFollow, "GET", "/"+l.Code, map[string]string{"User-Agent": ua})
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Location") != "" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			c.t.Fatalf("%s: %d Location %q Content-Type %q, want the preview page", ua, resp.StatusCode, resp.Header.Get("Location"), resp.Header.Get("Content-Type"))
		}
		meta := metaTags(c.t, body)
		for k, v := range map[string]string{
			"og:title":       "Spring <launch> & more",
			"og:description": `Everything "new" this spring`,
			"og:image":       "https://example.com/card.png",
			"twitter:card":   "summary_large_image",
		} {
			if meta[k] != v {
				c.t.Errorf("%s: %s = %q, want %q", ua, k, meta[k], v)
			}
		}
		if bytes.Contains(body, []byte("<launch>")) {
			c.t.Errorf("%s: the title is not escaped in the page", ua)
		}
	}
	resp, _ := c.visit(noFollow, "GET", "/"+l.Code, nil)
	c.wantRedirect("a browser", resp, 0, target)
}

// metaTags maps the property (or name) of every <meta> tag of page to its
// content.
func metaTags(t *testing.T, page []byte) map[string]string {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatalf("the preview page: %v", err)
	}
	out := map[string]string{}
	for n := range doc.Descendants() {
		if n.Type == html.ElementNode && n.Data == "meta" {
			key := attr(n, "property")
			if key == "" {
				key = attr(n, "name")
			}
			out[key] = attr(n, "content")
		}
	}
	return out
}

// smartCacheMaxAge: the redirect is cacheable by a CDN.
func smartCacheMaxAge(c smartClient) {
	const target = "https://example.com/cacheable"
	l := c.create(`{"url":"` + target + `","cache_max_age":300}`)
	resp, _ := c.visit(noFollow, "GET", "/"+l.Code, nil)
	c.wantRedirect("a cache_max_age link", resp, 0, target)
	if cc := resp.Header.Get("Cache-Control"); cc != "public, max-age=300" {
		c.t.Errorf("Cache-Control %q, want public, max-age=300", cc)
	}
}

// smartBadInput: each bad input of the issue is a 400 problem naming the
// field, on create (no link is made) and on PATCH (the link is as before).
func smartBadInput(c smartClient) {
	t := c.t
	twentyOne := make([]string, 21)
	for i := range twentyOne {
		twentyOne[i] = fmt.Sprintf(`{"when":{"query":{"n":"%d"}},"url":"https://example.com/r%d"}`, i, i)
	}
	cases := []struct {
		name, body, field string
	}{
		{"unknown condition", `{"rules":[{"when":{"colour":["red"]},"url":"https://example.com/r"}]}`, "rules[0].when.colour"},
		{"21 rules", `{"rules":[` + strings.Join(twentyOne, ",") + `]}`, "rules"},
		{"weights not 100", `{"targets":[{"url":"https://example.com/a","weight":60},{"url":"https://example.com/b","weight":30}]}`, "targets"},
		{"password over 1 KiB", `{"password":"` + strings.Repeat("p", 1025) + `"}`, "password"},
		{"preview image not http(s)", `{"preview":{"title":"t","image":"ftp://example.com/card.png"}}`, "preview.image"},
		{"cache_max_age on a click-limited link", `{"max_clicks":5,"cache_max_age":60}`, "cache_max_age"},
	}
	l := c.create(`{"url":"https://example.com/stable","max_clicks":10,"rules":[{"when":{"device":["mobile"]},"url":"https://example.com/m"}],"preview":{"title":"stable"}}`)
	before := c.link(l.Code, nil)
	for _, tc := range cases {
		status, body := c.api("PATCH", "/api/v1/links/"+l.Code, tc.body)
		c.wantProblem("PATCH, "+tc.name, status, body, tc.field)
		if after := c.link(l.Code, nil); !sameJSON(before, after) {
			t.Errorf("PATCH, %s: the link changed:\nbefore %s\nafter  %s", tc.name, before, after)
		}

		alias := "bad-" + randomHex(t, 4)
		status, body = c.api("POST", "/api/v1/links", `{"url":"https://example.com/new","alias":"`+alias+`",`+tc.body[1:])
		c.wantProblem("create, "+tc.name, status, body, tc.field)
		if status, _ := c.api("GET", "/api/v1/links/"+alias, ""); status != http.StatusNotFound {
			t.Errorf("create, %s: GET the alias: %d, want 404 (no link made)", tc.name, status)
		}
	}
	// The link still behaves as before.
	resp, _ := c.visit(noFollow, "GET", "/"+l.Code, map[string]string{"User-Agent": iphoneUA})
	c.wantRedirect("the link after the refused changes", resp, 0, "https://example.com/m")
}

// wantProblem fails unless the answer is a 400 problem document naming
// field (its JSON path).
func (c smartClient) wantProblem(what string, status int, body []byte, field string) {
	c.t.Helper()
	var p problemdoc.Details
	if status != http.StatusBadRequest || json.Unmarshal(body, &p) != nil {
		c.t.Errorf("%s: %d %s, want a 400 problem", what, status, body)
		return
	}
	if p.Field != field {
		c.t.Errorf("%s: field %q (%s), want %s", what, p.Field, p.Detail, field)
	}
	if p.Detail == "" {
		c.t.Errorf("%s: a problem without detail", what)
	}
	c.t.Logf("%s: 400, field %s: %s", what, p.Field, p.Detail)
}

// sameJSON reports whether a and b are the same JSON value.
func sameJSON(a, b []byte) bool {
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && reflect.DeepEqual(x, y)
}

func randomHex(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
