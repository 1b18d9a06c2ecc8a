package api_test

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/smartlink"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// smartBody is a create body with every smart field set.
const smartBody = `{"url":"https://example.com/landing?utm_source=old&x=1",
	"password":"hunter2","max_clicks":100,"expired_url":"https://example.com/gone",
	"rules":[{"when":{"country":["de","AT"],"device":["Mobile"]},"url":"https://example.com/de"},
	         {"when":{"after":"2031-01-01T00:00:00Z","query":{"ref":"tw"}},"url":"https://example.com/tw#top"}],
	"targets":[{"url":"https://a.example.com/","weight":70},{"url":"https://b.example.com/","weight":30}],
	"forward_query":true,"forward_query_override":true,
	"preview":{"title":"T","description":"D","image":"https://img.example.com/i.png"},
	"utm":{"source":"news","medium":"email","campaign":"spring sale"}}`

// TestSmartLinkFields: on both stores, every smart field is taken on
// create, shown by every answer (the password only as password_protected),
// merged by PATCH (absent kept, null cleared, arrays replaced) and stored.
func TestSmartLinkFields(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, open(t), api.Config{})
			w := e.do(t, "POST", "/api/v1/links", "application/json", smartBody)
			if w.Code != http.StatusCreated {
				t.Fatalf("create: %d %s", w.Code, w.Body.String())
			}
			noHash(t, "create", w.Body.String())
			l := decode[api.Link](t, w)
			const campaign = "utm_source=news&utm_medium=email&utm_campaign=spring+sale"
			want := api.SmartView{
				PasswordProtected: true, MaxClicks: 100, ExpiredURL: "https://example.com/gone",
				Rules: []smartlink.Rule{
					{When: smartlink.Conditions{Country: []string{"DE", "AT"}, Device: []string{"mobile"}}, URL: "https://example.com/de?" + campaign},
					{When: smartlink.Conditions{After: l.Rules[1].When.After, Query: map[string]string{"ref": "tw"}}, URL: "https://example.com/tw?" + campaign + "#top"},
				},
				Targets: []smartlink.Target{
					{URL: "https://a.example.com/?" + campaign, Weight: 70},
					{URL: "https://b.example.com/?" + campaign, Weight: 30},
				},
				ForwardQuery: true, ForwardQueryOverride: true,
				Preview: &smartlink.Preview{Title: "T", Description: "D", Image: "https://img.example.com/i.png"},
				UTM:     &api.UTM{Source: "news", Medium: "email", Campaign: "spring sale"},
			}
			if l.URL != "https://example.com/landing?x=1&"+campaign {
				t.Errorf("url = %q: the campaign replaces the url's utm_* and keeps the rest", l.URL)
			}
			if !reflect.DeepEqual(l.SmartView, want) {
				t.Errorf("create shows\n%+v\nwant\n%+v", l.SmartView, want)
			}
			path := "/api/v1/links/" + l.Code
			w = e.do(t, "GET", path, "", "")
			noHash(t, "get", w.Body.String())
			if got := decode[api.Link](t, w); !reflect.DeepEqual(got.SmartView, want) {
				t.Errorf("get shows\n%+v\nwant\n%+v", got.SmartView, want)
			}
			w = e.do(t, "GET", "/api/v1/links", "", "")
			noHash(t, "list", w.Body.String())
			if page := decode[api.LinkPage](t, w); len(page.Links) != 1 || !reflect.DeepEqual(page.Links[0].SmartView, want) {
				t.Errorf("list shows %+v", page.Links)
			}
			stored, err := e.store.Get(context.Background(), "", l.Code)
			if err != nil || !smartlink.CheckPassword(stored.Smart.PasswordHash, "hunter2") {
				t.Fatalf("stored password hash %q does not check (%v)", stored.Smart.PasswordHash, err)
			}

			// PATCH: absent fields stay, null clears, arrays replace whole.
			w = e.do(t, "PATCH", path, "application/json",
				`{"password":null,"max_clicks":null,"rules":[{"when":{"os":["iOS"]},"url":"https://example.com/ios"}],"preview":null,"utm":{"source":"x"}}`)
			if w.Code != http.StatusOK {
				t.Fatalf("patch: %d %s", w.Code, w.Body.String())
			}
			got := decode[api.Link](t, w)
			want.PasswordProtected, want.MaxClicks, want.Preview = false, 0, nil
			want.Rules = []smartlink.Rule{{When: smartlink.Conditions{OS: []string{"ios"}}, URL: "https://example.com/ios?utm_source=x"}}
			want.Targets = []smartlink.Target{{URL: "https://a.example.com/?utm_source=x", Weight: 70}, {URL: "https://b.example.com/?utm_source=x", Weight: 30}}
			want.UTM = &api.UTM{Source: "x"}
			if !reflect.DeepEqual(got.SmartView, want) || got.URL != "https://example.com/landing?x=1&utm_source=x" {
				t.Errorf("after patch %s\n%+v\nwant\n%+v", got.URL, got.SmartView, want)
			}
			if g := decode[api.Link](t, e.do(t, "GET", path, "", "")); !reflect.DeepEqual(g.SmartView, want) {
				t.Errorf("get after patch %+v", g.SmartView)
			}
			// utm null strips the campaign everywhere; a new password
			// protects the link again.
			w = e.do(t, "PATCH", path, "application/json", `{"utm":null,"password":"s3cret","targets":null}`)
			got = decode[api.Link](t, w)
			if w.Code != 200 || got.UTM != nil || got.URL != "https://example.com/landing?x=1" || !got.PasswordProtected ||
				got.Targets != nil || got.Rules[0].URL != "https://example.com/ios" {
				t.Errorf("after removing the campaign: %d %+v", w.Code, got)
			}
			noHash(t, "patch", w.Body.String())
			stored, err = e.store.Get(context.Background(), "", l.Code)
			if err != nil || !smartlink.CheckPassword(stored.Smart.PasswordHash, "s3cret") {
				t.Fatalf("stored after patch: %+v %v", stored.Smart, err)
			}
			// A plain link shows password_protected false and nothing else.
			p := e.mustCreate(t, `{"url":"https://example.com/plain"}`)
			if !reflect.DeepEqual(p.SmartView, api.SmartView{}) {
				t.Errorf("plain link shows %+v", p.SmartView)
			}
		})
	}
}

// noHash fails the test when an answer shows a password hash.
func noHash(t *testing.T, what, body string) {
	t.Helper()
	if strings.Contains(body, "argon2") || strings.Contains(body, "password_hash") || strings.Contains(body, "hunter2") {
		t.Errorf("%s shows the password or its hash: %s", what, body)
	}
}

// smartRefusals are bodies with one bad smart field, the field the 400
// names and words of its detail.
var smartRefusals = []struct {
	name, body, field, detail string
}{
	{"unknown condition", `{"rules":[{"when":{"colour":["red"]},"url":"https://e.com/"}]}`, "rules[0].when.colour", "unknown condition; one of device, os"},
	{"21 rules", `{"rules":[` + strings.TrimSuffix(strings.Repeat(`{"when":{"device":["bot"]},"url":"https://e.com/"},`, 21), ",") + `]}`, "rules", "at most 20"},
	{"weights", `{"targets":[{"url":"https://a.com/","weight":50},{"url":"https://b.com/","weight":40}]}`, "targets", "add up to 100"},
	{"password over 1 KiB", `{"password":"` + strings.Repeat("p", 1025) + `"}`, "password", "1 to 1024 bytes"},
	{"empty password", `{"password":""}`, "password", "1 to 1024 bytes"},
	{"preview image not http", `{"preview":{"image":"javascript:alert(1)"}}`, "preview.image", "http(s)"},
	{"cache_max_age with rules", `{"cache_max_age":60,"rules":[{"when":{"device":["bot"]},"url":"https://e.com/"}]}`, "cache_max_age", "depends on the visitor"},
	{"cache_max_age with password", `{"cache_max_age":60,"password":"pw"}`, "cache_max_age", "depends on the visitor"},
	{"cache_max_age with max_clicks", `{"cache_max_age":60,"max_clicks":3}`, "cache_max_age", "depends on the visitor"},
	{"cache_max_age with targets", `{"cache_max_age":60,"targets":[{"url":"https://a.com/","weight":50},{"url":"https://b.com/","weight":50}]}`, "cache_max_age", "depends on the visitor"},
	{"cache_max_age with preview", `{"cache_max_age":60,"preview":{"title":"t"}}`, "cache_max_age", "depends on the visitor"},
	{"bad country", `{"rules":[{"when":{"country":["Germany"]},"url":"https://e.com/"}]}`, "rules[0].when.country[0]", "ISO 3166"},
	{"empty when", `{"rules":[{"when":{},"url":"https://e.com/"}]}`, "rules[0].when", "no condition"},
	{"override without forward", `{"forward_query":false,"forward_query_override":true}`, "forward_query_override", "needs forward_query"},
	{"unknown rule key", `{"rules":[{"when":{"device":["bot"]},"url":"https://e.com/","weight":3}]}`, "rules[0].weight", "when and url"},
	{"unknown target key", `{"targets":[{"url":"https://a.com/","weight":50,"x":1},{"url":"https://b.com/","weight":50}]}`, "targets[0].x", "url and weight"},
	{"unknown preview key", `{"preview":{"title":"t","video":"v"}}`, "preview.video", "title, description and image"},
	{"unknown utm key", `{"utm":{"source":"s","id":"1"}}`, "utm.id", "source, medium"},
	{"when not an object", `{"rules":[{"when":"mobile","url":"https://e.com/"}]}`, "rules[0].when", "an object"},
	{"device not a list", `{"rules":[{"when":{"device":"mobile"},"url":"https://e.com/"}]}`, "rules[0].when.device", "an array"},
	{"bad time", `{"rules":[{"when":{"after":"tomorrow"},"url":"https://e.com/"}]}`, "rules[0].when", "RFC 3339"},
	{"unknown device", `{"rules":[{"when":{"device":["fridge"]},"url":"https://e.com/"}]}`, "rules[0].when.device[0]", "unknown device"},
	{"rule url not http", `{"rules":[{"when":{"device":["bot"]},"url":"ftp://e.com/"}]}`, "rules[0].url", "http(s)"},
	{"rule url private", `{"rules":[{"when":{"device":["bot"]},"url":"http://127.0.0.1/"}]}`, "rules[0].url", "rules[0].url"},
	{"variant url blocked", `{"targets":[{"url":"https://evil.test/","weight":50},{"url":"https://b.com/","weight":50}]}`, "targets[0].url", "blocked"},
	{"expired_url blocked", `{"expired_url":"https://x.evil.test/"}`, "expired_url", "blocked"},
	{"expired_url self", `{"expired_url":"http://sho.test/abc"}`, "expired_url", "expired_url"},
	{"max_clicks negative", `{"max_clicks":-1}`, "max_clicks", "between 1"},
	{"max_clicks fraction", `{"max_clicks":1.5}`, "max_clicks", "an integer"},
	{"max_clicks string", `{"max_clicks":"5"}`, "max_clicks", "an integer"},
	{"one variant", `{"targets":[{"url":"https://a.com/","weight":100}]}`, "targets", "2 to 10"},
	{"utm too long", `{"utm":{"campaign":"` + strings.Repeat("c", 513) + `"}}`, "utm.campaign", "longer than 512"},
}

// withURL puts a url into a body of smartRefusals.
func withURL(body string) string {
	return `{"url":"https://example.com/",` + strings.TrimPrefix(body, "{")
}

// TestSmartLinkRefusals: on both stores, each bad smart field is a 400
// naming its JSON path, and changes nothing: a create stores no link, a
// PATCH leaves the link as it was, a bulk refuses that link alone.
func TestSmartLinkRefusals(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			store := open(t)
			e := newEnvDeps(t, api.Config{}, api.Deps{Store: store, Blocklist: &blocklist{domains: []string{"evil.test"}}})
			base := e.mustCreate(t, smartBody)
			before, err := store.Get(context.Background(), "", base.Code)
			if err != nil {
				t.Fatal(err)
			}
			for _, tt := range smartRefusals {
				t.Run(tt.name, func(t *testing.T) {
					p := wantProblem(t, e.do(t, "POST", "/api/v1/links", "application/json", withURL(tt.body)), 400, tt.detail)
					if p.Field != tt.field || !strings.Contains(p.Detail, tt.field) {
						t.Errorf("create: field %q, detail %q; want the field %q named", p.Field, p.Detail, tt.field)
					}
					p = wantProblem(t, e.do(t, "PATCH", "/api/v1/links/"+base.Code, "application/json", tt.body), 400, tt.detail)
					if p.Field != tt.field {
						t.Errorf("patch: field %q, want %q", p.Field, tt.field)
					}
					w := e.do(t, "POST", "/api/v1/links/bulk", "application/json", `{"links":[`+withURL(tt.body)+`,{"url":"https://example.com/ok"}]}`)
					res := decode[api.BulkResponse](t, w)
					if w.Code != 200 || res.Created != 1 || res.Results[0].Status != 400 || res.Results[0].Error.Field != tt.field {
						t.Errorf("bulk: %d %s", w.Code, w.Body.String())
					}
				})
			}
			after, err := store.Get(context.Background(), "", base.Code)
			if err != nil || !reflect.DeepEqual(after, before) {
				t.Errorf("the refused PATCHes changed the link:\n%+v\nwas\n%+v (%v)", after, before, err)
			}
			// Only the first link and the bulks' good ones exist.
			links, err := store.List(context.Background(), linkstore.ListQuery{Limit: 1000})
			if err != nil || len(links) != 1+len(smartRefusals) {
				t.Errorf("%d links stored, want %d (%v)", len(links), 1+len(smartRefusals), err)
			}
			for _, l := range links {
				if l.Code != base.Code && l.URL != "https://example.com/ok" {
					t.Errorf("a refused create stored %+v", l)
				}
			}
		})
	}
}

// TestBulkPasswords: a bulk create hashes its passwords (each link gets
// its own hash), shows none of them, and refuses the passwords past
// Config.MaxBulkPasswords, link by link.
func TestBulkPasswords(t *testing.T) {
	store := backends(t)["sqlite"](t)
	const maxPasswords = 8
	e := newEnv(t, store, api.Config{MaxBulkPasswords: maxPasswords})
	var items []string
	n := maxPasswords + 2
	for i := range n {
		items = append(items, fmt.Sprintf(`{"url":"https://example.com/%d","password":"pw-%d"}`, i, i))
	}
	items = append(items, `{"url":"https://example.com/plain"}`)
	w := e.do(t, "POST", "/api/v1/links/bulk", "application/json", `{"links":[`+strings.Join(items, ",")+`]}`)
	if w.Code != http.StatusOK {
		t.Fatalf("bulk: %d %s", w.Code, w.Body.String())
	}
	noHash(t, "bulk", w.Body.String())
	res := decode[api.BulkResponse](t, w)
	if res.Created != maxPasswords+1 || res.Failed != 2 {
		t.Fatalf("created %d, failed %d", res.Created, res.Failed)
	}
	for i, r := range res.Results {
		switch {
		case i < maxPasswords:
			if r.Status != 201 || !r.Link.PasswordProtected {
				t.Fatalf("link %d: %+v", i, r)
			}
			if i%3 == 0 {
				l, err := store.Get(context.Background(), "", r.Link.Code)
				if err != nil || !smartlink.CheckPassword(l.Smart.PasswordHash, fmt.Sprintf("pw-%d", i)) {
					t.Errorf("link %d: stored hash %q does not check (%v)", i, l.Smart.PasswordHash, err)
				}
			}
		case i < n:
			if r.Status != 400 || r.Error.Field != "password" {
				t.Errorf("link %d past the password cap: %+v", i, r)
			}
		default:
			if r.Status != 201 || r.Link.PasswordProtected {
				t.Errorf("plain link: %+v", r)
			}
		}
	}
}

// TestSmartLinkIsolation: on both stores, another workspace's key can
// neither read a smart link's fields nor PATCH them (404, as for a missing
// link, even for a body that would be a 400), and the link is unchanged.
func TestSmartLinkIsolation(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			store := open(t)
			e := newWSEnv(t, store, api.Config{}, api.Deps{})
			w := e.call(t, e.acmeAdmin, "", "POST", "/api/v1/links", smartBody)
			wantStatusOf(t, w, http.StatusCreated)
			l := decode[api.Link](t, w)
			before, err := store.Get(context.Background(), "", l.Code)
			if err != nil {
				t.Fatal(err)
			}
			path := "/api/v1/links/" + l.Code
			wantStatusOf(t, e.call(t, e.otherAdm, "", "GET", path, ""), http.StatusNotFound)
			for _, body := range []string{
				`{"password":null,"max_clicks":null,"rules":null}`,
				`{"utm":{"source":"other"}}`,
				`{"rules":[{"when":{"device":["bot"]},"url":"https://e.com/"}],"cache_max_age":60}`,
			} {
				wantStatusOf(t, e.call(t, e.otherAdm, "", "PATCH", path, body), http.StatusNotFound)
			}
			// A malformed body is refused before the link is looked up,
			// alike for a foreign link and a missing one: nothing leaks.
			bad := `{"rules":[{"when":{"colour":["red"]},"url":"https://e.com/"}]}`
			foreign := e.call(t, e.otherAdm, "", "PATCH", path, bad)
			missing := e.call(t, e.otherAdm, "", "PATCH", "/api/v1/links/zzzzzz", bad)
			if foreign.Code != missing.Code || foreign.Body.String() != missing.Body.String() {
				t.Errorf("a foreign link answers %d %s, a missing one %d %s", foreign.Code, foreign.Body, missing.Code, missing.Body)
			}
			list := decode[api.LinkPage](t, e.call(t, e.otherAdm, "", "GET", "/api/v1/links", ""))
			for _, o := range list.Links {
				if o.Code == l.Code {
					t.Errorf("other lists acme's smart link: %+v", o)
				}
			}
			after, err := store.Get(context.Background(), "", l.Code)
			if err != nil || !reflect.DeepEqual(after, before) {
				t.Errorf("acme's link changed under other's key:\n%+v\nwas\n%+v (%v)", after, before, err)
			}
			// Its own admin reads it, without the password's hash.
			w = e.call(t, e.acmeAdmin, "", "GET", path, "")
			wantStatusOf(t, w, http.StatusOK)
			noHash(t, "own get", w.Body.String())
		})
	}
}

// TestSmartLinkAudit: the audit log of smart-link writes never holds the
// password or its hash.
func TestSmartLinkAudit(t *testing.T) {
	e := newAuditEnv(t, openAudit(t, "sqlite://"+filepath.Join(t.TempDir(), "audit.db")), api.Deps{})
	w := e.do(t, e.creator, "POST", "/api/v1/links", smartBody, "")
	wantStatusOf(t, w, http.StatusCreated)
	code := decode[api.Link](t, w).Code
	wantStatusOf(t, e.do(t, e.creator, "PATCH", "/api/v1/links/"+code, `{"password":"hunter2"}`, ""), http.StatusOK)
	w = e.do(t, e.creator, "POST", "/api/v1/links/bulk", `{"links":[`+smartBody+`]}`, "")
	wantStatusOf(t, w, http.StatusOK)
	noHash(t, "bulk", w.Body.String())
	var page string
	testenv.WaitFor(t, "three audit entries", 10*time.Second, func() bool {
		w := e.do(t, e.admin, http.MethodGet, "/api/v1/admin/audit", "", "")
		page = w.Body.String()
		return len(decode[api.AuditPage](t, w).Entries) >= 3
	})
	noHash(t, "audit log", page)
}

// TestUTMMerge: utm replaces the url's utm_* parameters (however they are
// written) and keeps everything else as written, fragment included; the
// answer's utm is read back from the url.
func TestUTMMerge(t *testing.T) {
	e := newEnv(t, backends(t)["sqlite"](t), api.Config{})
	for _, tt := range []struct{ url, utm, want string }{
		{"https://e.com/p", `{"source":"a"}`, "https://e.com/p?utm_source=a"},
		{"https://e.com/p?", `{"source":"a"}`, "https://e.com/p?utm_source=a"},
		{"https://e.com/p?b=2&utm_source=old&a=1#frag", `{"medium":"m","source":"s"}`, "https://e.com/p?b=2&a=1&utm_source=s&utm_medium=m#frag"},
		{"https://e.com/p?utm%5Fsource=old&UTM_SOURCE=kept&utm_id=7", `{"term":"x y&z"}`, "https://e.com/p?UTM_SOURCE=kept&utm_id=7&utm_term=x+y%26z"},
		{"https://e.com/p?utm_campaign=c", `{}`, "https://e.com/p"},
		{"https://e.com/p?q=1&utm_content=c", `null`, "https://e.com/p?q=1"},
	} {
		l := e.mustCreate(t, `{"url":"`+tt.url+`","utm":`+tt.utm+`}`)
		if l.URL != tt.want {
			t.Errorf("%s + %s = %s, want %s", tt.url, tt.utm, l.URL, tt.want)
		}
		if (l.UTM != nil) != strings.Contains(tt.want, "utm_") {
			t.Errorf("%s: utm shown %+v", l.URL, l.UTM)
		}
	}
}
