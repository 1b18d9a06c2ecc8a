package dashboard_test

import (
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/shortify/shortify/stats/dashboard"
)

// TestLinksPage: /dashboard/links is the links page, with its policy and
// no inline script or style; /dashboard/links/ (no code) sends there.
func TestLinksPage(t *testing.T) {
	h := dashboard.New()
	resp, body := get(t, h, http.MethodGet, "/dashboard/links")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Security-Policy") != dashboard.CSP {
		t.Fatalf("/dashboard/links: %d, CSP %q", resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
	}
	for _, want := range []string{`data-page="links"`, `id="lk-list"`, `id="lk-editor"`, `id="lk-confirm"`,
		`<script type="module" src="/dashboard/static/links.js"></script>`, `<a href="/dashboard/links" aria-current="page">Links</a>`} {
		if !strings.Contains(body, want) {
			t.Errorf("/dashboard/links: no %s", want)
		}
	}
	if m := regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]|<style|\sstyle=|\son[a-z]+=`).FindString(body); m != "" {
		t.Errorf("/dashboard/links: inline script or style %q", m)
	}
	if resp, _ := get(t, h, http.MethodGet, "/dashboard/links/"); resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != "/dashboard/links" {
		t.Errorf("/dashboard/links/: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestLinksScripts: the links page's scripts are served as JavaScript
// (modules need it), set no inline styles, run no code from strings and
// take the dashboard's helpers from its modules (imports), not from a
// global. TestScriptWritesNoMarkup checks them for markup.
func TestLinksScripts(t *testing.T) {
	h := dashboard.New()
	for _, name := range []string{"links.js", "linkform.js"} {
		resp, body := get(t, h, http.MethodGet, "/dashboard/static/"+name)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/javascript; charset=utf-8" || len(body) < 100 {
			t.Errorf("%s: %d %q, %d bytes", name, resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
		}
		js, err := os.ReadFile("static/" + name)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{`setTimeout("`, ".style.", "window.shortifyDashboard"} {
			if strings.Contains(string(js), bad) {
				t.Errorf("%s uses %s", name, bad)
			}
		}
	}
}
