package api_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/internal/problem"
	"github.com/shortify/shortify/internal/testkit/teststore"
)

// FuzzReportsAndAudit sends arbitrary report bodies to POST
// /api/v1/reports and arbitrary query strings to the audit and report
// lists: never a panic or a 5xx, every 4xx a problem document, and a
// report accepted only for the one link there is.
func FuzzReportsAndAudit(f *testing.F) {
	dir := f.TempDir()
	links := teststore.SQLiteFile(f, filepath.Join(dir, "l.db"))
	log := openAudit(f, "sqlite://"+filepath.Join(dir, "l.db"))
	h, err := newAPI(f, api.Config{}, api.Deps{Store: links, Issuer: newIssuer(f, 0), AuditLog: log, Reports: log})
	if err != nil {
		f.Fatal(err)
	}
	serve := func(method, target, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, target, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	if w := serve("POST", "http://sho.test/api/v1/links", `{"url":"https://example.com/","alias":"exists"}`); w.Code != http.StatusCreated {
		f.Fatalf("create: %d %s", w.Code, w.Body)
	}
	f.Add(`{"url":"exists","reason":"spam"}`, "key=k&outcome=success&limit=5")
	f.Add(`{"url":"http://sho.test/exists","reason":"phishing","details":"x","contact":"y"}`, "since=2026-01-01T00:00:00Z")
	f.Add(`{"url":"https://other.test/exists","reason":"spam"}`, "state=all&cursor=01D8QkR2vS7f")
	f.Fuzz(func(t *testing.T, body, query string) {
		check := func(w *httptest.ResponseRecorder, what string) {
			switch {
			case w.Code >= 500:
				t.Fatalf("%s: %d %s", what, w.Code, w.Body)
			case w.Code >= 400 && w.Header().Get("Content-Type") != problem.ContentType:
				t.Fatalf("%s: %d without a problem document", what, w.Code)
			}
		}
		w := serve("POST", "http://sho.test/api/v1/reports", body)
		check(w, "report "+body)
		if w.Code == http.StatusAccepted && !strings.Contains(body, "exists") {
			t.Fatalf("report %s accepted for no link", body)
		}
		q := url.PathEscape(query)
		check(serve("GET", "http://sho.test/api/v1/admin/audit?"+q, ""), "audit ?"+q)
		check(serve("GET", "http://sho.test/api/v1/admin/reports?"+q, ""), "reports ?"+q)
		check(serve("GET", "http://sho.test/report?"+q, ""), "page ?"+q)
	})
}
