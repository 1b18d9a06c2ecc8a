package api_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/controlplane/threatfeed"
	"github.com/shortify/shortify/internal/blockset"
	"github.com/shortify/shortify/internal/linkstore/pgstore"
	"github.com/shortify/shortify/internal/linkstore/sqlitestore"
	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/internal/testkit/teststore"
	"github.com/shortify/shortify/internal/threatlist"
)

// threatSet is an api.ThreatList holding a fixed set.
type threatSet struct{ set *threatlist.Set }

func (s threatSet) Set() *threatlist.Set { return s.set }

// reviewBackends are a link store and the review flags in one database.
var reviewBackends = map[string]func(t *testing.T) (*sqlitestore.Store, *pgstore.Store, string){
	"sqlite": func(t *testing.T) (*sqlitestore.Store, *pgstore.Store, string) {
		path := t.TempDir() + "/links.db"
		return teststore.SQLiteFile(t, path), nil, "sqlite://" + path
	},
	"postgres": func(t *testing.T) (*sqlitestore.Store, *pgstore.Store, string) {
		dsn := testenv.Schema(t)
		return nil, teststore.Postgres(t, dsn), dsn
	},
}

func reviewEnv(t *testing.T, name string, cfg api.Config, set *threatlist.Set) (*env, blockset.Store) {
	t.Helper()
	sq, pg, dsn := reviewBackends[name](t)
	rs, err := blockset.Open(context.Background(), dsn, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rs.Close)
	deps := api.Deps{Reviews: rs, Threats: threatSet{set}, Domains: verifiedDomains{reviewDomain: true}}
	if sq != nil {
		deps.Store = sq
	} else {
		deps.Store = pg
	}
	return newEnvDeps(t, cfg, deps), rs
}

func TestThreatFeedRefusesTargets(t *testing.T) {
	set := threatlist.NewSet([]threatlist.Sourced{
		{Entry: threatlist.Entry{Kind: threatlist.Host, Value: "evil.example"}, Source: "urlhaus"},
		{Entry: threatlist.Entry{Kind: threatlist.URL, Value: "shared.example/phish"}, Source: "openphish"},
		{Entry: threatlist.Entry{Kind: threatlist.Host, Value: "banned.example"}, Source: threatfeed.AdminSource},
	})
	for name := range reviewBackends {
		t.Run(name, func(t *testing.T) {
			e, _ := reviewEnv(t, name, api.Config{}, set)
			for _, tc := range []struct{ url, detail string }{
				{"https://www.Evil.example/x", `the domain evil.example is listed by the threat feed "urlhaus"`},
				{"http://shared.example/phish#x", `the URL is listed by the threat feed "openphish"`},
				{"https://banned.example/", "the domain banned.example is blocked (admin blocklist)"},
			} {
				p := wantProblem(t, e.do(t, "POST", "/api/v1/links", "application/json", `{"url":"`+tc.url+`"}`), 400, tc.detail)
				if p.Field != "url" {
					t.Errorf("%s: field %q", tc.url, p.Field)
				}
			}
			ok := e.mustCreate(t, `{"url":"https://shared.example/fine"}`)
			wantProblem(t, e.do(t, "PATCH", "/api/v1/links/"+ok.Code, "application/json", `{"url":"https://evil.example/"}`), 400, "urlhaus")
		})
	}
}

func TestReviewFlags(t *testing.T) {
	for name := range reviewBackends {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			e, rs := reviewEnv(t, name, api.Config{}, nil)
			a := e.mustCreate(t, `{"url":"https://a.example/"}`)
			b := e.mustCreate(t, `{"url":"https://b.example/"}`)
			at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
			if err := rs.Flag(ctx, []blockset.Review{{Code: a.Code, Reason: "listed", Source: "urlhaus", At: at}}); err != nil {
				t.Fatal(err)
			}
			got := decode[api.Link](t, e.do(t, "GET", "/api/v1/links/"+a.Code, "", ""))
			if got.Review == nil || *got.Review != (api.Review{Reason: "listed", Source: "urlhaus", At: at}) {
				t.Fatalf("review of a flagged link = %+v", got.Review)
			}
			if got := decode[api.Link](t, e.do(t, "GET", "/api/v1/links/"+b.Code, "", "")); got.Review != nil {
				t.Fatalf("unflagged link has a review %+v", got.Review)
			}
			w := e.do(t, "GET", "/api/v1/links", "", "")
			if !strings.Contains(w.Body.String(), `"review":{"reason":"listed","source":"urlhaus"`) {
				t.Fatalf("the list shows no review: %s", w.Body.String())
			}
			page := decode[api.ReviewPage](t, e.do(t, "GET", "/api/v1/admin/review?limit=1", "", ""))
			if len(page.Links) != 1 || page.Links[0].Code != a.Code || page.NextCursor == "" {
				t.Fatalf("review page = %+v", page)
			}
			if page = decode[api.ReviewPage](t, e.do(t, "GET", "/api/v1/admin/review?cursor="+page.NextCursor, "", "")); len(page.Links) != 0 {
				t.Fatalf("second page = %+v", page)
			}
			wantProblem(t, e.do(t, "GET", "/api/v1/admin/review?cursor=zz", "", ""), 400, "cursor")
			if w := e.do(t, "DELETE", "/api/v1/admin/review/"+a.Code, "", ""); w.Code != http.StatusNoContent {
				t.Fatalf("resolve: %d %s", w.Code, w.Body.String())
			}
			wantProblem(t, e.do(t, "DELETE", "/api/v1/admin/review/"+a.Code, "", ""), 404, "not flagged")

			// Deleting a flagged link drops its flag.
			if err := rs.Flag(ctx, []blockset.Review{{Code: b.Code, Reason: "listed", Source: "plain", At: at}}); err != nil {
				t.Fatal(err)
			}
			if w := e.do(t, "DELETE", "/api/v1/links/"+b.Code, "", ""); w.Code != http.StatusNoContent {
				t.Fatalf("delete: %d", w.Code)
			}
			if page := decode[api.ReviewPage](t, e.do(t, "GET", "/api/v1/admin/review", "", "")); len(page.Links) != 0 {
				t.Fatalf("flags after the delete: %+v", page)
			}
		})
	}
}

// reviewDomain is the verified custom domain of reviewEnv's workspace.
const reviewDomain = "go.acme.example"

// TestReviewFlagsPerDomain: a flag is one link's, (domain, code): it shows
// on that link only, the list names its domain, resolving or deleting
// takes the domain, and the own host's link with the same code is left
// alone.
func TestReviewFlagsPerDomain(t *testing.T) {
	for name := range reviewBackends {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			e, rs := reviewEnv(t, name, api.Config{}, nil)
			own := e.mustCreate(t, `{"url":"https://a.example/","alias":"promo"}`)
			acme := e.mustCreate(t, `{"url":"https://a.example/","alias":"promo","domain":"`+reviewDomain+`"}`)
			if own.Domain != "" || acme.Domain != reviewDomain {
				t.Fatalf("domains: %q %q", own.Domain, acme.Domain)
			}
			at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
			flag := func() {
				t.Helper()
				if err := rs.Flag(ctx, []blockset.Review{{Domain: reviewDomain, Code: "promo", Reason: "listed", Source: "urlhaus", At: at}}); err != nil {
					t.Fatal(err)
				}
			}
			flag()
			if got := decode[api.Link](t, e.do(t, "GET", "/api/v1/links/promo", "", "")); got.Review != nil {
				t.Fatalf("the own host's link shows the custom domain's flag: %+v", got.Review)
			}
			if got := decode[api.Link](t, e.do(t, "GET", "/api/v1/links/promo?domain="+reviewDomain, "", "")); got.Review == nil || got.Review.Source != "urlhaus" {
				t.Fatalf("the custom domain's link has no review: %+v", got.Review)
			}
			page := decode[api.ReviewPage](t, e.do(t, "GET", "/api/v1/admin/review", "", ""))
			if len(page.Links) != 1 || page.Links[0].Code != "promo" || page.Links[0].Domain != reviewDomain {
				t.Fatalf("review page = %+v", page)
			}
			for _, tc := range []struct {
				name, path string
				status     int
				detail     string
			}{
				{"own host: not flagged", "/api/v1/admin/review/promo", 404, "not flagged"},
				{"bad domain", "/api/v1/admin/review/promo?domain=a%20b", 400, "domain"},
				{"unknown parameter", "/api/v1/admin/review/promo?dom=" + reviewDomain, 400, "dom"},
			} {
				wantProblem(t, e.do(t, "DELETE", tc.path, "", ""), tc.status, tc.detail)
			}
			if w := e.do(t, "DELETE", "/api/v1/admin/review/promo?domain="+strings.ToUpper(reviewDomain), "", ""); w.Code != http.StatusNoContent {
				t.Fatalf("resolve: %d %s", w.Code, w.Body.String())
			}
			// Deleting the own host's link leaves the custom domain's flag;
			// deleting the custom domain's link drops it.
			flag()
			if w := e.do(t, "DELETE", "/api/v1/links/promo", "", ""); w.Code != http.StatusNoContent {
				t.Fatalf("delete own: %d", w.Code)
			}
			if page := decode[api.ReviewPage](t, e.do(t, "GET", "/api/v1/admin/review", "", "")); len(page.Links) != 1 {
				t.Fatalf("flags after the own host's delete: %+v", page)
			}
			if w := e.do(t, "DELETE", "/api/v1/links/promo?domain="+reviewDomain, "", ""); w.Code != http.StatusNoContent {
				t.Fatalf("delete custom: %d %s", w.Code, w.Body.String())
			}
			if page := decode[api.ReviewPage](t, e.do(t, "GET", "/api/v1/admin/review", "", "")); len(page.Links) != 0 {
				t.Fatalf("flags after the custom domain's delete: %+v", page)
			}
		})
	}
}

// TestReviewCursor: cursors carry the domain, and a cursor without one
// (as given out before) still reads as the own host's.
func TestReviewCursor(t *testing.T) {
	e, rs := reviewEnv(t, "sqlite", api.Config{}, nil)
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := rs.Flag(context.Background(), []blockset.Review{
		{Code: "x1", Reason: "r", Source: "s", At: at},
		{Domain: reviewDomain, Code: "x1", Reason: "r", Source: "s", At: at},
	}); err != nil {
		t.Fatal(err)
	}
	page := decode[api.ReviewPage](t, e.do(t, "GET", "/api/v1/admin/review?limit=1", "", ""))
	if len(page.Links) != 1 || page.Links[0].Domain != reviewDomain {
		t.Fatalf("first page = %+v", page)
	}
	page = decode[api.ReviewPage](t, e.do(t, "GET", "/api/v1/admin/review?limit=1&cursor="+page.NextCursor, "", ""))
	if len(page.Links) != 1 || page.Links[0].Domain != "" || page.Links[0].Code != "x1" {
		t.Fatalf("second page = %+v", page)
	}
	old := base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(at.Add(time.Second).UnixMicro(), 10) + " x1"))
	if page = decode[api.ReviewPage](t, e.do(t, "GET", "/api/v1/admin/review?cursor="+old, "", "")); len(page.Links) != 2 {
		t.Fatalf("page after an old cursor = %+v", page)
	}
}

func TestLookalikeFlag(t *testing.T) {
	// The Cyrillic "а" in "pаypal" makes a look-alike host.
	e, _ := reviewEnv(t, "sqlite", api.Config{FlagLookalike: true}, nil)
	w := e.do(t, "POST", "/api/v1/links", "application/json", `{"url":"https://pаypal.com/"}`)
	if w.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", w.Code, w.Body.String())
	}
	if l := decode[api.Link](t, w); l.Review == nil || l.Review.Source != "lookalike" {
		t.Fatalf("a look-alike link is not flagged: %+v", l.Review)
	}
	if l := e.mustCreate(t, `{"url":"https://paypal.com/"}`); l.Review != nil {
		t.Fatalf("a plain link is flagged: %+v", l.Review)
	}
}
