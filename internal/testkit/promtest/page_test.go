package promtest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const page = `# HELP shortify_edge_cache_requests_total Lookups.
# TYPE shortify_edge_cache_requests_total counter
shortify_edge_cache_requests_total{result="hit",tier="l1"} 90
shortify_edge_cache_requests_total{result="miss",tier="l1"} 10
go_memstats_next_gc_bytes 3.2e+08
caddy_http_requests_total{server="public"} 5
`

func TestParsePage(t *testing.T) {
	s, err := Parse(strings.NewReader(page), "shortify_edge_")
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 2 || s[`shortify_edge_cache_requests_total{result="hit",tier="l1"}`] != 90 {
		t.Fatalf("Parse = %v, want the two shortify_edge_ samples", s)
	}
	all, err := Parse(strings.NewReader(page), "")
	if err != nil {
		t.Fatal(err)
	}
	v, err := all.Values("go_memstats_next_gc_bytes", `caddy_http_requests_total{server="public"}`)
	if err != nil || v[0] != 3.2e8 || v[1] != 5 {
		t.Fatalf("Values = %v, %v", v, err)
	}
	if _, err := all.Values("absent_total"); err == nil || !strings.Contains(err.Error(), "absent_total") {
		t.Fatalf("Values of an absent series = %v, want an error naming it", err)
	}
	if _, err := Parse(strings.NewReader("x_total not-a-number\n"), ""); err == nil {
		t.Fatal("a sample that is not a number was accepted")
	}
}

func TestPageAddSub(t *testing.T) {
	a := Page{"x": 10, "y": 1}
	a.Add(Page{"x": 5, "z": 2})
	d := a.Sub(Page{"x": 3})
	if d["x"] != 12 || d["y"] != 1 || d["z"] != 2 {
		t.Fatalf("Add then Sub = %v", d)
	}
}

// Get reads a real HTTP server's page, and says which URL failed.
func TestGetPage(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(page))
	}))
	t.Cleanup(srv.Close)
	s, err := Get(t.Context(), nil, srv.URL+"/metrics", "go_")
	if err != nil || len(s) != 1 || s["go_memstats_next_gc_bytes"] != 3.2e8 {
		t.Fatalf("Get = %v, %v", s, err)
	}
	if _, err := Get(t.Context(), srv.Client(), srv.URL+"/other", ""); err == nil || !strings.Contains(err.Error(), "/other") {
		t.Fatalf("Get of a missing page = %v, want an error naming it", err)
	}
}
