package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/internal/apikey"
	"github.com/shortify/shortify/internal/problem"
	"github.com/shortify/shortify/internal/testkit/teststore"
)

// The OpenAPI document (openapi.json, served at /api/v1/openapi.json) is
// held to the router both ways: every route is documented with its method,
// path and access, every documented operation is a route, errors are
// problem documents, and the schemas carry the Go types' JSON names.

const openAPIPath = "/api/v1/openapi.json"

// oaMethods are the OpenAPI path-item keys that name operations.
var oaMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// oaDoc is the parsed document with $ref resolution.
type oaDoc struct {
	root map[string]any
}

// loadOpenAPI reads and parses the document the package embeds.
func loadOpenAPI(t *testing.T) (oaDoc, []byte) {
	t.Helper()
	raw, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var root map[string]any
	if err := json.Unmarshal(raw, &root); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	return oaDoc{root}, raw
}

// oaObj is v as a JSON object (nil when it is none).
func oaObj(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// pointer resolves a local JSON pointer such as #/components/schemas/Link.
func (d oaDoc) pointer(ref string) (any, error) {
	if !strings.HasPrefix(ref, "#/") {
		return nil, fmt.Errorf("%q is not a local reference", ref)
	}
	var cur any = d.root
	for tok := range strings.SplitSeq(ref[2:], "/") {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		m := oaObj(cur)
		next, ok := m[tok]
		if m == nil || !ok {
			return nil, fmt.Errorf("%q does not resolve (no %q)", ref, tok)
		}
		cur = next
	}
	return cur, nil
}

// deref follows $ref (and references to references) to the object meant.
func (d oaDoc) deref(t *testing.T, v any) map[string]any {
	t.Helper()
	m := oaObj(v)
	for range 10 {
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		target, err := d.pointer(ref)
		if err != nil {
			t.Fatal(err)
		}
		m = oaObj(target)
	}
	t.Fatalf("reference loop at %v", v)
	return nil
}

// oaOperation is one operation of the document.
type oaOperation struct {
	method, path string
	op           map[string]any
	item         map[string]any
}

func (o oaOperation) name() string { return strings.ToUpper(o.method) + " " + o.path }

func (d oaDoc) operations() []oaOperation {
	var out []oaOperation
	for path, item := range oaObj(d.root["paths"]) {
		for _, m := range oaMethods {
			if op := oaObj(oaObj(item)[m]); op != nil {
				out = append(out, oaOperation{m, path, op, oaObj(item)})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name() < out[j].name() })
	return out
}

// operation finds the operation of a route pattern such as "GET /api/v1/links".
func (d oaDoc) operation(pattern string) (oaOperation, bool) {
	method, path, _ := strings.Cut(pattern, " ")
	op := oaObj(oaObj(oaObj(d.root["paths"])[path])[strings.ToLower(method)])
	if op == nil {
		return oaOperation{}, false
	}
	return oaOperation{strings.ToLower(method), path, op, oaObj(oaObj(d.root["paths"])[path])}, true
}

// parameters are the operation's parameters, the path item's included,
// resolved.
func (d oaDoc) parameters(t *testing.T, o oaOperation) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, list := range []any{o.item["parameters"], o.op["parameters"]} {
		l, _ := list.([]any)
		for _, p := range l {
			out = append(out, d.deref(t, p))
		}
	}
	return out
}

// openAPIHandler is the API over an SQLite store, with an admin key.
func openAPIHandler(t *testing.T) (*api.Handler, string) {
	t.Helper()
	s := teststore.SQLite(t)
	ring := &keyRing{}
	h, err := api.New(api.Config{PublicURL: testPublicURL}, api.Deps{Store: s, Issuer: newIssuer(t, 0), Keys: ring})
	if err != nil {
		t.Fatal(err)
	}
	return h, ring.mint(t, apikey.Admin)
}

// TestOpenAPIDocument checks the document on its own: OpenAPI 3.1, every
// reference resolving, the security schemes, unique operation IDs and
// declared tags.
func TestOpenAPIDocument(t *testing.T) {
	d, raw := loadOpenAPI(t)
	if v, _ := d.root["openapi"].(string); !regexp.MustCompile(`^3\.1\.\d+$`).MatchString(v) {
		t.Errorf("openapi = %q, want 3.1.x", v)
	}
	info := oaObj(d.root["info"])
	if title, _ := info["title"].(string); title == "" {
		t.Errorf("info has no title: %v", info)
	}
	if version, _ := info["version"].(string); version == "" {
		t.Errorf("info has no version: %v", info)
	}
	if servers, _ := d.root["servers"].([]any); len(servers) != 1 || oaObj(servers[0])["url"] != "/" {
		t.Errorf("servers = %v, want one with url \"/\"", d.root["servers"])
	}

	// Every $ref resolves.
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				if _, err := d.pointer(ref); err != nil {
					t.Errorf("%s: %v", path, err)
				}
			}
			for k, e := range v {
				walk(path+"/"+k, e)
			}
		case []any:
			for i, e := range v {
				walk(fmt.Sprintf("%s/%d", path, i), e)
			}
		}
	}
	walk("#", d.root)

	schemes := oaObj(oaObj(d.root["components"])["securitySchemes"])
	if _, ok := schemes["ClusterSecret"]; ok {
		t.Error("the ClusterSecret scheme is still declared: members authenticate with mutual TLS on the internal listener")
	}
	for name, header := range map[string]string{"ApiKey": api.KeyHeader} {
		s := oaObj(schemes[name])
		if s["type"] != "apiKey" || s["in"] != "header" || s["name"] != header {
			t.Errorf("security scheme %s = %v, want an apiKey in the header %s", name, s, header)
		}
	}
	if s := oaObj(schemes["Bearer"]); s["type"] != "http" || s["scheme"] != "bearer" {
		t.Errorf("security scheme Bearer = %v, want http bearer", s)
	}

	tags := map[string]bool{}
	for _, tag := range d.root["tags"].([]any) {
		tags[oaObj(tag)["name"].(string)] = true
	}
	ids := map[string]string{}
	for _, o := range d.operations() {
		id, _ := o.op["operationId"].(string)
		if id == "" {
			t.Errorf("%s has no operationId", o.name())
		} else if other, dup := ids[id]; dup {
			t.Errorf("operationId %q is used by %s and %s", id, other, o.name())
		}
		ids[id] = o.name()
		opTags, _ := o.op["tags"].([]any)
		if len(opTags) == 0 {
			t.Errorf("%s has no tag", o.name())
		}
		for _, tag := range opTags {
			if !tags[tag.(string)] {
				t.Errorf("%s: tag %q is not declared in the document's tags", o.name(), tag)
			}
		}
		if s, _ := o.op["summary"].(string); s == "" {
			t.Errorf("%s has no summary", o.name())
		}
	}
	if !bytes.HasSuffix(raw, []byte("\n")) {
		t.Error("openapi.json does not end with a newline")
	}
}

// TestOpenAPIRoutes checks that every route of the router is documented
// with the same method and path, that every documented operation is a
// route, and that path templates and path parameters agree.
func TestOpenAPIRoutes(t *testing.T) {
	d, _ := loadOpenAPI(t)
	h, _ := openAPIHandler(t)

	routes := map[string]bool{}
	for _, r := range h.Routes() {
		routes[r.Pattern] = true
	}
	documented := map[string]bool{}
	for _, o := range d.operations() {
		documented[o.name()] = true
	}
	var missing, extra []string
	for r := range routes {
		if !documented[r] {
			missing = append(missing, r)
		}
	}
	for o := range documented {
		if !routes[o] {
			extra = append(extra, o)
		}
	}
	slices.Sort(missing)
	slices.Sort(extra)
	for _, r := range missing {
		t.Errorf("route %s is not in openapi.json", r)
	}
	for _, o := range extra {
		t.Errorf("openapi.json documents %s, which is no route", o)
	}
	if !routes["GET "+openAPIPath] {
		t.Errorf("the document is not served at %s", openAPIPath)
	}

	// Path templates: each {name} is a required path parameter, and no
	// other path parameter is declared.
	tmpl := regexp.MustCompile(`\{([^}]+)\}`)
	for _, o := range d.operations() {
		want := map[string]bool{}
		for _, m := range tmpl.FindAllStringSubmatch(o.path, -1) {
			want[m[1]] = true
		}
		got := map[string]bool{}
		for _, p := range d.parameters(t, o) {
			if p["in"] != "path" {
				continue
			}
			name := p["name"].(string)
			got[name] = true
			if !want[name] {
				t.Errorf("%s declares the path parameter %q, which is not in the path", o.name(), name)
			}
			if p["required"] != true {
				t.Errorf("%s: path parameter %q is not required", o.name(), name)
			}
		}
		for name := range want {
			if !got[name] {
				t.Errorf("%s does not declare the path parameter %q", o.name(), name)
			}
		}
	}
}

// oaSecurity is the security requirement an access level calls for:
// public none at all, creator-or-anonymous a key or nothing. A key is a
// Bearer token or an X-Api-Key header, so it is two alternatives; the role
// in each is the least the route needs. Member routes are not in the
// public API at all.
func oaSecurity(access string) (any, bool) {
	key := func(role string) []any {
		return []any{map[string]any{"Bearer": []any{role}}, map[string]any{"ApiKey": []any{role}}}
	}
	switch access {
	case "public":
		return []any{}, true
	case "viewer", "creator", "admin":
		return key(access), true
	case "workspace-admin":
		return key("admin"), true
	case "creator-or-anonymous":
		return append(key("creator"), map[string]any{}), true
	}
	return nil, false
}

// TestOpenAPISecurity checks each operation's security against its
// route's access.
func TestOpenAPISecurity(t *testing.T) {
	d, _ := loadOpenAPI(t)
	h, _ := openAPIHandler(t)
	for _, r := range h.Routes() {
		o, ok := d.operation(r.Pattern)
		if !ok {
			continue // TestOpenAPIRoutes reports it
		}
		want, known := oaSecurity(r.Access)
		if !known {
			t.Errorf("%s: access %q has no security requirement in this test; add one", r.Pattern, r.Access)
			continue
		}
		got, present := o.op["security"]
		if !present {
			t.Errorf("%s has no security (a route of access %s needs %v)", r.Pattern, r.Access, want)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			gotJSON, _ := json.Marshal(got)
			wantJSON, _ := json.Marshal(want)
			t.Errorf("%s (%s): security = %s, want %s", r.Pattern, r.Access, gotJSON, wantJSON)
		}
		if a := o.op["x-shortify-access"]; a != r.Access {
			t.Errorf("%s: x-shortify-access = %v, want %s", r.Pattern, a, r.Access)
		}
	}
}

// TestOpenAPIServed fetches the document from the API: public, JSON, the
// same bytes as openapi.json, cacheable and revalidated with its ETag.
func TestOpenAPIServed(t *testing.T) {
	_, raw := loadOpenAPI(t)
	h, _ := openAPIHandler(t)
	get := func(method string, header ...string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "http://sho.test"+openAPIPath, nil)
		for i := 0; i+1 < len(header); i += 2 {
			r.Header.Set(header[i], header[i+1])
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}

	w := get("GET") // no key: the route is public
	if w.Code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", openAPIPath, w.Code, w.Body.String())
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	if cc := w.Header().Get("Cache-Control"); !strings.Contains(cc, "max-age=") {
		t.Errorf("Cache-Control = %q, want a max-age", cc)
	}
	if !json.Valid(w.Body.Bytes()) {
		t.Fatal("the served document is not JSON")
	}
	if !bytes.Equal(w.Body.Bytes(), raw) {
		t.Error("the served document differs from openapi.json")
	}
	etag := w.Header().Get("ETag")
	if !strings.HasPrefix(etag, `"`) || !strings.HasSuffix(etag, `"`) || len(etag) < 3 {
		t.Fatalf("ETag = %q, want a strong entity tag", etag)
	}

	for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
		w := get("GET", "If-None-Match", inm)
		if w.Code != http.StatusNotModified || w.Body.Len() != 0 {
			t.Errorf("If-None-Match %s: %d with %d bytes, want 304 and no body", inm, w.Code, w.Body.Len())
		}
		if w.Header().Get("ETag") != etag || w.Header().Get("Cache-Control") == "" {
			t.Errorf("If-None-Match %s: 304 without ETag or Cache-Control: %v", inm, w.Header())
		}
	}
	if w := get("GET", "If-None-Match", `"stale"`); w.Code != http.StatusOK || w.Body.Len() != len(raw) {
		t.Errorf("a stale ETag: %d with %d bytes, want 200 and the document", w.Code, w.Body.Len())
	}
	if w := get("HEAD"); w.Code != http.StatusOK || w.Body.Len() != 0 || w.Header().Get("Content-Length") != fmt.Sprint(len(raw)) {
		t.Errorf("HEAD: %d with %d bytes and Content-Length %q", w.Code, w.Body.Len(), w.Header().Get("Content-Length"))
	}
	if w := get("POST"); w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d, want 405", w.Code)
	}
}

// TestOpenAPIResponses checks each operation's answers: at least one 2xx or
// 3xx, every error a problem document, and the errors that the access check
// and the JSON body decoder can answer documented.
func TestOpenAPIResponses(t *testing.T) {
	d, _ := loadOpenAPI(t)
	problemSchema := d.deref(t, map[string]any{"$ref": "#/components/schemas/Problem"})
	props := oaObj(problemSchema["properties"])
	for name, typ := range map[string]string{"type": "string", "title": "string", "status": "integer", "detail": "string", "field": "string"} {
		if oaObj(props[name])["type"] != typ {
			t.Errorf("Problem.%s: %v, want type %s", name, props[name], typ)
		}
	}

	h, _ := openAPIHandler(t)
	access := map[string]string{}
	for _, r := range h.Routes() {
		access[r.Pattern] = r.Access
	}
	for _, o := range d.operations() {
		resps := oaObj(o.op["responses"])
		success := false
		for code, v := range resps {
			r := d.deref(t, v)
			if desc, _ := oaObj(v)["description"].(string); desc == "" {
				if desc, _ = r["description"].(string); desc == "" {
					t.Errorf("%s %s has no description", o.name(), code)
				}
			}
			switch code[0] {
			case '2', '3':
				success = true
			case '4', '5':
				content := oaObj(r["content"])
				if len(content) != 1 || content[problem.ContentType] == nil {
					t.Errorf("%s %s: content %v, want only %s", o.name(), code, slices.Sorted(maps.Keys(content)), problem.ContentType)
					continue
				}
				schema := oaObj(oaObj(content[problem.ContentType])["schema"])
				if schema["$ref"] != "#/components/schemas/Problem" {
					t.Errorf("%s %s: schema %v, want the Problem schema", o.name(), code, schema)
				}
			default:
				t.Errorf("%s: response %q is not a status code", o.name(), code)
			}
		}
		if !success {
			t.Errorf("%s has no 2xx or 3xx response", o.name())
		}

		var want []string
		switch access[o.name()] {
		case "viewer", "creator", "admin", "workspace-admin", "member-or-viewer", "member-or-admin":
			want = append(want, "401", "403")
		case "creator-or-anonymous":
			want = append(want, "401", "403", "429")
		case "member":
			want = append(want, "403")
		}
		if body := oaObj(o.op["requestBody"]); body != nil {
			if oaObj(body["content"])["application/json"] == nil {
				t.Errorf("%s: the request body is not application/json", o.name())
			}
			want = append(want, "400", "413", "415")
		}
		for _, code := range want {
			if resps[code] == nil {
				t.Errorf("%s does not document %s", o.name(), code)
			}
		}
	}
}
