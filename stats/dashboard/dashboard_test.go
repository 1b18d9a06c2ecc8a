package dashboard_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/shortify/shortify/stats/dashboard"
)

func get(t *testing.T, h http.Handler, method, path string) (*http.Response, string) {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(method, path, nil))
	resp := w.Result()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestPages: the pages, their headers, and the code of a link page
// escaped into it; anything that is not a code is a 404.
func TestPages(t *testing.T) {
	h := dashboard.New()
	for _, c := range []struct {
		path   string
		status int
		want   []string
	}{
		{"/dashboard/", 200, []string{`data-page="overview"`, `id="create-form"`, `<script type="module" src="/dashboard/static/dashboard.js"></script>`, `id="range-custom"`}},
		{"/dashboard/links/aB3_-x", 200, []string{`data-page="link"`, `data-code="aB3_-x"`, `<code id="link-code">aB3_-x</code>`, `id="qr"`, `id="range-from"`}},
		{"/dashboard/links/%3Cscript%3Ealert(1)%3C%2Fscript%3E", 404, []string{`data-page="notfound"`}},
		{"/dashboard/links/a%22b", 404, nil},
		{"/dashboard/links/abc/more", 404, nil},
		{"/dashboard/nothing", 404, nil},
	} {
		resp, body := get(t, h, http.MethodGet, c.path)
		if resp.StatusCode != c.status {
			t.Errorf("%s: %d, want %d", c.path, resp.StatusCode, c.status)
		}
		if got := resp.Header.Get("Content-Security-Policy"); got != dashboard.CSP {
			t.Errorf("%s: CSP %q", c.path, got)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("%s: Content-Type %q", c.path, ct)
		}
		for _, h := range []string{"X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"} {
			if resp.Header.Get(h) == "" {
				t.Errorf("%s: no %s", c.path, h)
			}
		}
		for _, w := range c.want {
			if !strings.Contains(body, w) {
				t.Errorf("%s: no %s in\n%s", c.path, w, body)
			}
		}
		if strings.Contains(body, "<script>") || strings.Contains(body, "alert(") {
			t.Errorf("%s: the path's markup came back:\n%s", c.path, body)
		}
		// The policy allows no inline script or style: the pages have
		// none.
		if m := regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]|<style|\sstyle=|\son[a-z]+=`).FindString(body); m != "" {
			t.Errorf("%s: inline script or style %q", c.path, m)
		}
	}
	if resp, _ := get(t, h, http.MethodGet, "/dashboard"); resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != "/dashboard/" {
		t.Errorf("/dashboard: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp, _ := get(t, h, http.MethodPost, "/dashboard/"); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", resp.StatusCode)
	}
	if resp, body := get(t, h, http.MethodHead, "/dashboard/"); resp.StatusCode != http.StatusOK || body != "" {
		t.Errorf("HEAD: %d, %d bytes", resp.StatusCode, len(body))
	}
}

// TestAssets: the script, its modules and the style sheet are served
// from the binary with their types (a module needs a JavaScript type) and
// the policy.
func TestAssets(t *testing.T) {
	h := dashboard.New()
	assets := map[string]string{"/dashboard/static/dashboard.css": "text/css; charset=utf-8"}
	for _, js := range scripts(t) {
		assets["/dashboard/static/"+js] = "text/javascript; charset=utf-8"
	}
	for path, ct := range assets {
		resp, body := get(t, h, http.MethodGet, path)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != ct || len(body) < 100 {
			t.Errorf("%s: %d %q, %d bytes", path, resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
		}
		if resp.Header.Get("Content-Security-Policy") != dashboard.CSP {
			t.Errorf("%s: no CSP", path)
		}
	}
	if resp, _ := get(t, h, http.MethodGet, "/dashboard/static/nothing.js"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("a missing asset: %d", resp.StatusCode)
	}
}

// TestScriptWritesNoMarkup: the scripts write text and attributes only,
// never markup, so that nothing users wrote becomes HTML.
func TestScriptWritesNoMarkup(t *testing.T) {
	for _, name := range scripts(t) {
		js, err := os.ReadFile(filepath.Join("static", name))
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "DOMParser", "createContextualFragment"} {
			if strings.Contains(string(js), bad) {
				t.Errorf("%s uses %s", name, bad)
			}
		}
	}
}

// scripts are the names of the dashboard's scripts (dashboard.js and the
// modules it imports).
func scripts(t *testing.T) []string {
	t.Helper()
	names, err := filepath.Glob("static/*.js")
	if err != nil || len(names) < 2 {
		t.Fatalf("the scripts: %v, %v", names, err)
	}
	for i, n := range names {
		names[i] = filepath.Base(n)
	}
	return names
}
