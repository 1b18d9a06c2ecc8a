package api_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/controlplane/audit"
	"github.com/shortify/shortify/controlplane/domainverify"
	"github.com/shortify/shortify/internal/blockset"
	"github.com/shortify/shortify/internal/problem"
	"github.com/shortify/shortify/internal/targeturl/targeturltest"
	"github.com/shortify/shortify/internal/testkit/teststore"
	"github.com/shortify/shortify/stats/partitions"
)

// FuzzRoutes sends arbitrary path arguments, query strings and bodies to
// every route but the cluster's (which have fuzz targets of their own), as
// an admin, with the partition routes on an SQLite stats database: the
// answer is never a panic or a 5xx, and every 4xx is a problem document.
func FuzzRoutes(f *testing.F) {
	dir := f.TempDir()
	s := teststore.SQLiteFile(f, filepath.Join(dir, "l.db"))
	parts, err := partitions.Open(context.Background(), partitions.Config{DSN: "sqlite://" + filepath.Join(dir, "stats.db"), Migrate: true})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(parts.Close)
	log := openAudit(f, "sqlite://"+filepath.Join(dir, "l.db"))
	rec := audit.NewRecorder(log, audit.RecorderConfig{})
	f.Cleanup(rec.Close)
	reviews, err := blockset.Open(context.Background(), "sqlite://"+filepath.Join(dir, "l.db"), true)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(reviews.Close)
	reg := newRegistry()
	reg.mustWorkspace(f, "acme")
	h, err := newAPI(f, api.Config{}, api.Deps{Store: s, Issuer: newIssuer(f, 0), Blocklist: &blocklist{}, Partitions: parts, PartitionPolicy: &policyStore{}, Reviews: reviews,
		Webhooks: openWebhooks(f, "sqlite://"+filepath.Join(dir, "l.db")),
		Audit:    rec, AuditLog: log, Reports: log, Domains: reg, DomainAdmin: reg, Workspaces: reg, WorkspaceAdmin: reg,
		DomainVerifier: domainverify.Verifier{Resolver: targeturltest.DNSServerAddr(f, nil, nil)}})
	if err != nil {
		f.Fatal(err)
	}
	bare, _ := api.New(api.Config{PublicURL: testPublicURL}, api.Deps{Store: s, Issuer: newIssuer(f, 0)})
	var routes []string
	for _, r := range bare.Routes() {
		if strings.Contains(r.Pattern, "/cluster") {
			continue
		}
		routes = append(routes, r.Pattern)
	}
	seeds := []struct {
		route      uint8
		arg, query string
		body       string
	}{
		{0, "", "", `{"url":"https://example.com/"}`},
		{1, "", "limit=5&prefix=ab", ""},
		{2, "", "", `{"links":[{"url":"https://example.com/"},{"url":"x"}]}`},
		{4, "abcdef", "", `{"expires_at":null,"disabled":true}`},
		{6, "abcdef", "size=300&ecc=H&format=svg", ""},
		{8, "", "", `{"name":"n","role":"viewer"}`},
		{11, "spam.example", "", ""},
	}
	for _, sd := range seeds {
		f.Add(sd.route, sd.arg, sd.query, []byte(sd.body))
	}
	for i, r := range routes {
		if r == "GET /api/v1/domains/allowed" {
			f.Add(uint8(i), "", "domain=GO.example.com.", []byte(nil))
		}
	}
	f.Fuzz(func(t *testing.T, route uint8, arg, query string, body []byte) {
		pattern := routes[int(route)%len(routes)]
		method, path, _ := strings.Cut(pattern, " ")
		for _, p := range []string{"{code}", "{id}", "{domain}", "{name}", "{delivery}"} {
			path = strings.ReplaceAll(path, p, url.PathEscape(arg))
		}
		target := "http://sho.test" + path
		if query != "" {
			target += "?" + url.PathEscape(query)
		}
		r, err := http.NewRequest(method, target, bytes.NewReader(body))
		if err != nil {
			return // not a request a client could send
		}
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		switch {
		case w.Code >= 500:
			t.Fatalf("%s %s: %d %s", method, target, w.Code, w.Body.String())
		case w.Code >= 400 && w.Header().Get("Content-Type") != problem.ContentType:
			t.Fatalf("%s %s: %d without a problem document", method, target, w.Code)
		}
	})
}
