package api_test

import (
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/controlplane/audit"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/problem"
	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/internal/testkit/teststore"
)

// reportStores are a link store and an audit store, in one database.
var reportStores = map[string]func(t *testing.T) (linkstore.Store, *audit.Store){
	"sqlite": func(t *testing.T) (linkstore.Store, *audit.Store) {
		dir := t.TempDir()
		return teststore.SQLiteFile(t, filepath.Join(dir, "links.db")), openAudit(t, "sqlite://"+filepath.Join(dir, "links.db"))
	},
	"postgres": func(t *testing.T) (linkstore.Store, *audit.Store) {
		dsn := testenv.Schema(t)
		return teststore.Postgres(t, dsn), openAudit(t, dsn)
	},
}

// reportEnv is an API that takes reports, two a client, with a link to
// report.
func reportEnv(t *testing.T, open func(t *testing.T) (linkstore.Store, *audit.Store)) (*auditEnv, string) {
	t.Helper()
	links, log := open(t)
	e := newAuditEnv(t, log, api.Deps{Store: links, Reports: log, ReportLimiter: &limiter{left: map[string]int{}, n: 2},
		Domains: verifiedDomains{reportDomain: true, "pending.acme.example": false}})
	w := e.do(t, e.admin, "POST", "/api/v1/links", `{"url":"https://example.com/phish","alias":"reported"}`, "")
	if w.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	return e, "reported"
}

func TestReports(t *testing.T) {
	for name := range auditStores {
		t.Run(name, func(t *testing.T) {
			e, code := reportEnv(t, reportStores[name])
			for _, tt := range []struct {
				name, peer, body, ctype string
				want                    int
				field                   string
			}{
				{"bare code", "192.0.2.1:1", `{"url":"reported","reason":"phishing","details":"<script>x</script>","contact":"a@b.test"}`, "application/json", 202, ""},
				{"short URL", "192.0.2.1:1", `{"url":"http://SHO.test/reported","reason":"spam"}`, "application/json", 202, ""},
				{"over the limit", "192.0.2.1:1", `{"url":"reported","reason":"spam"}`, "application/json", 429, ""},
				{"other site", "192.0.2.2:1", `{"url":"https://evil.example/reported","reason":"spam"}`, "application/json", 400, "url"},
				{"not a code", "192.0.2.2:1", `{"url":"no/such code","reason":"spam"}`, "application/json", 400, "url"},
				{"no url", "192.0.2.2:1", `{"reason":"spam"}`, "application/json", 400, "url"},
				{"bad reason", "192.0.2.2:1", `{"url":"reported","reason":"boring"}`, "application/json", 400, "reason"},
				{"unknown field", "192.0.2.2:1", `{"url":"reported","reason":"spam","x":1}`, "application/json", 400, "x"},
				{"bad JSON", "192.0.2.2:1", `{"url":`, "application/json", 400, ""},
				{"not JSON", "192.0.2.2:1", `url=reported&reason=spam`, "application/x-www-form-urlencoded", 415, ""},
				{"oversized", "192.0.2.2:1", `{"url":"reported","reason":"spam","details":"` + strings.Repeat("a", 9000) + `"}`, "application/json", 413, ""},
				{"details too long", "192.0.2.2:1", `{"url":"reported","reason":"spam","details":"` + strings.Repeat("a", 4001) + `"}`, "application/json", 400, "details"},
				{"unknown link", "192.0.2.3:1", `{"url":"nosuchlink","reason":"malware"}`, "application/json", 404, "url"},
			} {
				w := e.do(t, "", "POST", "/api/v1/reports", tt.body, tt.peer, "Content-Type", tt.ctype)
				if w.Code != tt.want {
					t.Errorf("%s: %d %s, want %d", tt.name, w.Code, w.Body, tt.want)
					continue
				}
				if tt.want == 202 {
					if got := decode[map[string]string](t, w); got["id"] == "" || got["state"] != "open" {
						t.Errorf("%s: %v", tt.name, got)
					}
					continue
				}
				if p := decode[problem.Details](t, w); w.Header().Get("Content-Type") != problem.ContentType || p.Field != tt.field {
					t.Errorf("%s: %s, field %q, want %q", tt.name, w.Body, p.Field, tt.field)
				}
				if tt.want == 429 && w.Header().Get("Retry-After") == "" {
					t.Errorf("%s: no Retry-After", tt.name)
				}
			}

			// Admin: list the open ones, resolve one, list by state.
			list := func(key, query string) api.ReportPage {
				t.Helper()
				w := e.do(t, key, "GET", "/api/v1/admin/reports"+query, "", "")
				if w.Code != http.StatusOK {
					t.Fatalf("list%s: %d %s", query, w.Code, w.Body)
				}
				return decode[api.ReportPage](t, w)
			}
			open := list(e.admin, "")
			if len(open.Reports) != 2 || open.Reports[0].URL != "http://SHO.test/reported" || open.Reports[1].Details != "<script>x</script>" ||
				open.Reports[1].Code != code || open.Reports[1].ClientIP != "192.0.2.1" || open.Reports[1].State != "open" {
				t.Fatalf("open reports: %+v", open)
			}
			id := open.Reports[1].ID
			resolve := func(key, id, body string) *httptest.ResponseRecorder {
				return e.do(t, key, "POST", "/api/v1/admin/reports/"+id+"/resolve", body, "")
			}
			w := resolve(e.admin, id, `{"resolution":"taken_down","note":"disabled the link"}`)
			if w.Code != http.StatusOK {
				t.Fatalf("resolve: %d %s", w.Code, w.Body)
			}
			if r := decode[api.ReportInfo](t, w); r.State != "resolved" || r.ResolvedBy != e.adminID || r.Resolution != "taken_down" || r.ResolvedAt == nil {
				t.Errorf("resolved: %+v", r)
			}
			wantProblem(t, resolve(e.admin, id, `{"resolution":"no_action"}`), http.StatusConflict, "resolved already")
			wantProblem(t, resolve(e.admin, "999999", `{"resolution":"no_action"}`), http.StatusNotFound, "no report")
			if p := wantProblem(t, resolve(e.admin, "x", `{"resolution":"no_action"}`), http.StatusBadRequest, ""); p.Field != "id" {
				t.Errorf("bad id: field %q", p.Field)
			}
			if p := wantProblem(t, resolve(e.admin, id, `{"resolution":"whatever"}`), http.StatusBadRequest, ""); p.Field != "resolution" {
				t.Errorf("bad resolution: field %q", p.Field)
			}
			wantProblem(t, resolve(e.creator, id, `{"resolution":"no_action"}`), http.StatusForbidden, "admin")
			wantProblem(t, e.do(t, e.creator, "GET", "/api/v1/admin/reports", "", ""), http.StatusForbidden, "admin")
			for _, tt := range []struct {
				query string
				want  int
			}{{"?state=open", 1}, {"?state=resolved", 1}, {"?state=all", 2}} {
				if got := list(e.admin, tt.query); len(got.Reports) != tt.want {
					t.Errorf("%s: %d reports, want %d", tt.query, len(got.Reports), tt.want)
				}
			}
			first := list(e.admin, "?state=all&limit=1")
			second := list(e.admin, "?state=all&limit=1&cursor="+first.NextCursor)
			if len(second.Reports) != 1 || second.Reports[0].ID == first.Reports[0].ID {
				t.Errorf("pages: %+v then %+v", first, second)
			}
			if p := wantProblem(t, e.do(t, e.admin, "GET", "/api/v1/admin/reports?state=closed", "", ""), http.StatusBadRequest, ""); p.Field != "state" {
				t.Errorf("bad state: field %q", p.Field)
			}
			// The report and its resolution are writes, in the audit log.
			wants := []string{"POST /api/v1/reports 202", "POST /api/v1/reports 429", "POST /api/v1/admin/reports/{id}/resolve 200", "POST /api/v1/admin/reports/{id}/resolve 409"}
			testenv.WaitFor(t, "the reports' audit entries", 10*time.Second, func() bool {
				var actions []string
				for _, en := range e.entries(t, "limit=1000").Entries {
					actions = append(actions, en.Action+" "+fmt.Sprint(en.Status))
				}
				return !slices.ContainsFunc(wants, func(w string) bool { return !slices.Contains(actions, w) })
			})
		})
	}
}

// reportDomain is the verified custom domain of reportEnv's workspace.
const reportDomain = "go.acme.example"

// TestReportsOnCustomDomains: a short URL on a verified custom domain is
// reported as that domain's link, which must exist there; the admin list
// and the resolution show the domain.
func TestReportsOnCustomDomains(t *testing.T) {
	for name := range reportStores {
		t.Run(name, func(t *testing.T) {
			e, _ := reportEnv(t, reportStores[name])
			w := e.do(t, e.admin, "POST", "/api/v1/links", `{"url":"https://example.com/x","alias":"promo","domain":"`+reportDomain+`"}`, "")
			if w.Code != http.StatusCreated {
				t.Fatalf("create: %d %s", w.Code, w.Body)
			}
			for i, tt := range []struct {
				name, url string
				want      int
				detail    string
			}{
				{"custom domain", "https://go.acme.example/promo", 202, ""},
				{"custom domain, other spelling", "http://GO.Acme.Example./promo", 202, ""},
				{"own host link not on the domain", "https://go.acme.example/reported", 404, "go.acme.example/reported"},
				{"domain link not on the own host", "promo", 404, `"promo"`},
				{"own host URL of a domain link", "https://sho.test/promo", 404, `"promo"`},
				{"unverified domain", "https://pending.acme.example/promo", 400, "not a short link"},
				{"unknown domain", "https://other.example/promo", 400, "not a short link"},
				{"no host", "https:///promo", 400, "not a short link"},
				{"bad host", "https://a_b..example/promo", 400, "not a short link"},
			} {
				w := e.do(t, "", "POST", "/api/v1/reports", `{"url":"`+tt.url+`","reason":"phishing"}`, fmt.Sprintf("192.0.2.%d:1", 10+i))
				if w.Code != tt.want {
					t.Errorf("%s: %d %s, want %d", tt.name, w.Code, w.Body, tt.want)
					continue
				}
				if tt.want != 202 {
					if p := decode[problem.Details](t, w); p.Field != "url" || !strings.Contains(p.Detail, tt.detail) {
						t.Errorf("%s: %+v", tt.name, p)
					}
				}
			}
			w = e.do(t, "", "POST", "/api/v1/reports", `{"url":"reported","reason":"spam"}`, "192.0.2.50:1")
			if w.Code != http.StatusAccepted {
				t.Fatalf("own host report: %d %s", w.Code, w.Body)
			}
			w = e.do(t, e.admin, "GET", "/api/v1/admin/reports", "", "")
			page := decode[api.ReportPage](t, w)
			if len(page.Reports) != 3 || page.Reports[0].Domain != "" || page.Reports[0].Code != "reported" ||
				page.Reports[1].Domain != reportDomain || page.Reports[2].Domain != reportDomain || page.Reports[2].Code != "promo" {
				t.Fatalf("reports: %+v", page.Reports)
			}
			if strings.Count(w.Body.String(), `"domain":`) != 2 {
				t.Errorf("the own host's report shows a domain: %s", w.Body)
			}
			w = e.do(t, e.admin, "POST", "/api/v1/admin/reports/"+page.Reports[2].ID+"/resolve", `{"resolution":"taken_down"}`, "")
			if r := decode[api.ReportInfo](t, w); w.Code != http.StatusOK || r.Domain != reportDomain || r.Code != "promo" {
				t.Errorf("resolved: %d %+v", w.Code, r)
			}
		})
	}
}

func TestReportPage(t *testing.T) {
	e := newAuditEnv(t, auditStores["sqlite"](t), api.Deps{Store: teststore.SQLite(t)})
	w := e.do(t, "", "GET", `/report?url=%22%3E%3Cscript%3Ealert(1)%3C/script%3E`, "", "")
	if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
		t.Fatalf("page: %d %s", w.Code, w.Header())
	}
	csp := w.Header().Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || w.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("headers: %v", w.Header())
	}
	body := w.Body.String()
	if strings.Contains(body, "<script>alert") || !strings.Contains(body, html.EscapeString(`"><script>alert(1)</script>`)) && !strings.Contains(body, "&#34;&gt;&lt;script&gt;") {
		t.Errorf("the prefilled url is not escaped:\n%s", body)
	}
	// Scripts only from files, no inline script or handler attributes.
	for _, m := range regexp.MustCompile(`<script[^>]*>`).FindAllString(body, -1) {
		if !strings.Contains(m, `src="/api/v1/reports/form.js"`) {
			t.Errorf("inline script: %s", m)
		}
	}
	if regexp.MustCompile(`(?i)\son[a-z]+=`).MatchString(body) {
		t.Errorf("an inline event handler in the page")
	}
	w = e.do(t, "", "GET", "/api/v1/reports/form.js", "", "")
	if w.Code != http.StatusOK || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/javascript") || !strings.Contains(w.Body.String(), "/api/v1/reports") {
		t.Errorf("script: %d %s", w.Code, w.Header())
	}
	if strings.Contains(w.Body.String(), "innerHTML") {
		t.Errorf("the script writes HTML")
	}
	wantProblem(t, e.do(t, "", "GET", "/report?x=1", "", ""), http.StatusBadRequest, "unknown query parameter")
}

// scriptedIssuer hands out the codes it was given, in order.
type scriptedIssuer struct {
	*issuer
	codes []string
}

func (s *scriptedIssuer) NextCode() (string, error) {
	c := s.codes[0]
	s.codes = s.codes[1:]
	return c, nil
}

// TestGeneratedCodeNeverReserved: a generated code that reads as a
// reserved word (the report page's route, in any case) is skipped.
func TestGeneratedCodeNeverReserved(t *testing.T) {
	is := &scriptedIssuer{issuer: newIssuer(t, 0), codes: []string{"Report", "reports", "abcdef"}}
	h, err := newAPI(t, api.Config{}, api.Deps{Store: teststore.SQLite(t), Issuer: is})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("POST", "http://sho.test/api/v1/links", strings.NewReader(`{"url":"https://example.com/"}`))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusCreated || decode[api.Link](t, w).Code != "abcdef" {
		t.Errorf("%d %s, want the code abcdef", w.Code, w.Body)
	}
}
