package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
)

// The OpenAPI document (openapi.json, served at
// /api/v1/stats/openapi.json) is held to the router both ways: every route
// is documented with its method, path and access, every documented
// operation is a route, and each route takes exactly the query parameters
// the document lists.

// oaValid is a valid value of every query parameter.
var oaValid = map[string]string{
	"from": "2026-11-01", "to": "2026-11-02", "granularity": "day",
	"limit": "5", "traffic": "human", "link_id": "1", "domain": "go.example.com",
}

type oaOperation struct {
	OperationID string                `json:"operationId"`
	Access      string                `json:"x-shortify-access"`
	Security    []map[string][]string `json:"security"`
	Parameters  []struct {
		Ref string `json:"$ref"`
	} `json:"parameters"`
	Responses map[string]json.RawMessage `json:"responses"`
}

type oaDocument struct {
	OpenAPI    string                            `json:"openapi"`
	Paths      map[string]map[string]oaOperation `json:"paths"`
	Components struct {
		Parameters map[string]struct {
			Name string `json:"name"`
			In   string `json:"in"`
		} `json:"parameters"`
		Schemas map[string]json.RawMessage `json:"schemas"`
	} `json:"components"`
}

func loadOpenAPI(t *testing.T) (oaDocument, []byte) {
	t.Helper()
	raw, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc oaDocument
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	return doc, raw
}

func TestOpenAPIRoutes(t *testing.T) {
	e := setup(t, "sqlite")
	// The link of the per-link routes' examples (a code without
	// statistics is a 404).
	e.bucketRow("day", at(1, 0), "abc", 1, false, 1, nil)
	doc, _ := loadOpenAPI(t)
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q", doc.OpenAPI)
	}
	routes := map[string]string{} // "get /path" -> access
	for _, r := range e.h.Routes() {
		method, path, _ := strings.Cut(r.Pattern, " ")
		routes[strings.ToLower(method)+" "+path] = r.Access
	}
	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			key := method + " " + path
			documented[key] = true
			access, ok := routes[key]
			if !ok {
				t.Errorf("documented %s is no route", key)
				continue
			}
			if op.Access != access {
				t.Errorf("%s: documented access %q, route %q", key, op.Access, access)
			}
			wantSec := []map[string][]string{{"Bearer": {"viewer"}}, {"ApiKey": {"viewer"}}}
			if access == "public" {
				wantSec = []map[string][]string{}
			}
			if b1, _ := json.Marshal(op.Security); string(b1) != mustJSON(wantSec) {
				t.Errorf("%s: security %s, want %s", key, b1, mustJSON(wantSec))
			}
			if access != "public" {
				for _, status := range []string{"200", "400", "401", "403", "503"} {
					if _, ok := op.Responses[status]; !ok {
						t.Errorf("%s: no %s response", key, status)
					}
				}
			}
			if access != "public" { // the document ignores the query
				checkQueryParams(t, e, doc, path, op)
			}
		}
	}
	for key := range routes {
		if !documented[key] {
			t.Errorf("route %s is not documented", key)
		}
	}
}

// checkQueryParams sends each documented query parameter (accepted) and
// each other one (refused as unknown) to the route.
func checkQueryParams(t *testing.T, e *env, doc oaDocument, path string, op oaOperation) {
	t.Helper()
	concrete := strings.NewReplacer("{code}", "abc", "{dimension}", "os").Replace(path)
	var query []string
	for _, p := range op.Parameters {
		name := strings.TrimPrefix(p.Ref, "#/components/parameters/")
		param, ok := doc.Components.Parameters[name]
		if !ok {
			t.Errorf("%s: parameter %s is not defined", path, p.Ref)
		}
		if param.In == "query" {
			query = append(query, param.Name)
		}
	}
	for name, value := range oaValid {
		resp := e.get(concrete+"?"+name+"="+value, e.viewer)
		body, _ := io.ReadAll(resp.Body)
		if slices.Contains(query, name) {
			if resp.StatusCode != http.StatusOK {
				t.Errorf("%s?%s=%s (documented): %d %s", concrete, name, value, resp.StatusCode, body)
			}
		} else if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "unknown query parameter") {
			t.Errorf("%s?%s=%s (not documented): %d %s", concrete, name, value, resp.StatusCode, body)
		}
	}
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

// TestOpenAPIServed: the document is served as the file holds it, public,
// with an ETag that If-None-Match matches.
func TestOpenAPIServed(t *testing.T) {
	e := setup(t, "sqlite")
	_, raw := loadOpenAPI(t)
	resp := e.get("/api/v1/stats/openapi.json", "")
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(body) != string(raw) || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("served document: %d %s, %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
	}
	etag := resp.Header.Get("ETag")
	r := mustRequest(t, "/api/v1/stats/openapi.json")
	r.Header.Set("If-None-Match", etag)
	if w := serve(e, r); w.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %d, want 304", w.StatusCode)
	}
	if resp := e.do(http.MethodHead, "/api/v1/stats/openapi.json", ""); resp.StatusCode != http.StatusOK {
		t.Errorf("HEAD: %d", resp.StatusCode)
	}
}
