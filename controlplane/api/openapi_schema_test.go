package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/controlplane/cluster"
	"github.com/shortify/shortify/internal/problem"
	"github.com/shortify/shortify/internal/smartlink"
)

// TestOpenAPIQueryParameters calls each route that takes query parameters
// with each documented one (its example value) and checks that the route
// takes it, and that the route's own list of allowed parameters is the
// documented one.
func TestOpenAPIQueryParameters(t *testing.T) {
	d, _ := loadOpenAPI(t)
	h, key := openAPIHandler(t)
	call := func(method, path string, q url.Values) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, "http://sho.test"+path+"?"+q.Encode(), nil)
		r.Header.Set(api.KeyHeader, key)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	field := func(w *httptest.ResponseRecorder) problem.Details {
		var p problem.Details
		_ = json.Unmarshal(w.Body.Bytes(), &p)
		return p
	}
	for _, o := range d.operations() {
		var names []string
		path := strings.NewReplacer("{code}", "a9ZkQ2").Replace(o.path)
		for _, p := range d.parameters(t, o) {
			if p["in"] != "query" {
				continue
			}
			name := p["name"].(string)
			names = append(names, name)
			ex, ok := p["example"]
			if !ok {
				t.Errorf("%s: query parameter %s has no example", o.name(), name)
				continue
			}
			// A route with a body answers 400 for the missing body: the
			// parameter passed if the refusal is not about it.
			w := call(strings.ToUpper(o.method), path, url.Values{name: {fmt.Sprint(ex)}})
			if w.Code == http.StatusBadRequest && (o.method == "get" || o.method == "delete" || field(w).Field == name) {
				t.Errorf("%s?%s=%v: 400 %s", o.name(), name, ex, w.Body.String())
			}
		}
		if len(names) == 0 {
			continue
		}
		// The route names its allowed parameters when it refuses another.
		w := call(strings.ToUpper(o.method), path, url.Values{"zz_undocumented": {"1"}})
		p := field(w)
		_, allowed, ok := strings.Cut(p.Detail, "allowed: ")
		if w.Code != http.StatusBadRequest || p.Field != "zz_undocumented" || !ok {
			t.Errorf("%s with an unknown parameter: %d %s", o.name(), w.Code, w.Body.String())
			continue
		}
		got := strings.Split(allowed, ", ")
		slices.Sort(got)
		slices.Sort(names)
		if !slices.Equal(got, names) {
			t.Errorf("%s: the route allows the query parameters %v, the document lists %v", o.name(), got, names)
		}
	}
}

// jsonField is one field of a Go type as encoding/json writes it.
type jsonField struct {
	name   string
	typ    reflect.Type
	always bool // no omitempty or omitzero: always in the output
}

// jsonFields lists the JSON fields of struct type t, embedded structs'
// fields included.
func jsonFields(t reflect.Type) []jsonField {
	var out []jsonField
	for f := range t.Fields() {
		tag := f.Tag.Get("json")
		if tag == "-" || !f.IsExported() && !f.Anonymous {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		if name == "" {
			name = f.Name
		}
		omit := slices.ContainsFunc(strings.Split(opts, ","), func(o string) bool { return o == "omitempty" || o == "omitzero" })
		out = append(out, jsonField{name: name, typ: f.Type, always: !omit})
	}
	return out
}

// jsonType is the JSON type encoding/json writes for t ("" for any, "ref"
// for an object that a schema should reference).
func jsonType(t reflect.Type) (typ string, nullable bool) {
	if t == reflect.TypeFor[json.RawMessage]() {
		return "", false
	}
	if t.Kind() == reflect.Pointer {
		typ, _ := jsonType(t.Elem())
		return typ, true
	}
	if t == reflect.TypeFor[time.Time]() {
		return "string", false
	}
	switch t.Kind() {
	case reflect.String:
		return "string", false
	case reflect.Bool:
		return "boolean", false
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer", false
	case reflect.Float32, reflect.Float64:
		return "number", false
	case reflect.Slice, reflect.Array:
		return "array", true // a nil slice is null
	case reflect.Struct:
		return "ref", false
	case reflect.Map:
		return "object", true
	}
	return "", false
}

// TestOpenAPISchemas holds the document's schemas to the Go types the
// handlers encode and decode: the same JSON names, the same JSON types,
// every always-written field required in an answer, and request bodies
// closed to unknown fields (the decoders refuse them).
func TestOpenAPISchemas(t *testing.T) {
	d, _ := loadOpenAPI(t)
	for _, tt := range []struct {
		schema  string
		v       any
		request bool
	}{
		{"Problem", problem.Details{}, false},
		{"Link", api.Link{}, false},
		{"CreateLinkRequest", api.CreateLinkRequest{}, true},
		{"UpdateLinkRequest", api.UpdateLinkRequest{}, true},
		{"SmartRule", smartlink.Rule{}, true},
		{"SmartConditions", smartlink.Conditions{}, true},
		{"SmartTarget", smartlink.Target{}, true},
		{"SmartPreview", smartlink.Preview{}, true},
		{"UTM", api.UTM{}, true},
		{"LinkPage", api.LinkPage{}, false},
		{"BulkRequest", api.BulkRequest{}, true},
		{"BulkResult", api.BulkResult{}, false},
		{"BulkResponse", api.BulkResponse{}, false},
		{"KeyInfo", api.KeyInfo{}, false},
		{"NewKey", api.NewKey{}, false},
		{"CreateKeyRequest", api.CreateKeyRequest{}, true},
		{"Partition", api.Partition{}, false},
		{"PartitionList", api.PartitionList{}, false},
		{"PartitionCatalogueEntry", api.PartitionCatalogueEntry{}, false},
		{"CreatedPartitions", api.CreatedPartitions{}, false},
		{"CreatePartitionsRequest", api.CreatePartitionsRequest{}, true},
		{"ClusterInfo", cluster.Info{}, false},
		{"ClusterMember", cluster.Member{}, false},
		{"JoinRequest", cluster.JoinRequest{}, true},
		{"AuditEntry", api.AuditEntry{}, false},
		{"AuditPage", api.AuditPage{}, false},
		{"ReportRequest", api.ReportRequest{}, true},
		{"ReportInfo", api.ReportInfo{}, false},
		{"ReportPage", api.ReportPage{}, false},
		{"ResolveRequest", api.ResolveRequest{}, true},
		{"Workspace", api.WorkspaceInfo{}, false},
		{"WorkspaceLimits", api.WorkspaceLimits{}, false},
		{"WorkspaceLimitsPatch", api.WorkspaceLimitsPatch{}, true},
		{"CreateWorkspaceRequest", api.CreateWorkspaceRequest{}, true},
		{"UpdateWorkspaceRequest", api.UpdateWorkspaceRequest{}, true},
		{"Domain", api.DomainInfo{}, false},
		{"DomainChallenge", api.DomainChallenge{}, false},
		{"CreateDomainRequest", api.CreateDomainRequest{}, true},
		{"UpdateDomainRequest", api.UpdateDomainRequest{}, true},
		{"Webhook", api.Webhook{}, false},
		{"WebhookList", api.WebhookList{}, false},
		{"CreateWebhookRequest", api.CreateWebhookRequest{}, true},
		{"UpdateWebhookRequest", api.UpdateWebhookRequest{}, true},
		{"WebhookDelivery", api.WebhookDelivery{}, false},
		{"WebhookDeliveryPage", api.WebhookDeliveryPage{}, false},
	} {
		t.Run(tt.schema, func(t *testing.T) {
			s := d.deref(t, map[string]any{"$ref": "#/components/schemas/" + tt.schema})
			if s == nil {
				t.Fatalf("no schema %s", tt.schema)
			}
			props := oaObj(s["properties"])
			required := map[string]bool{}
			reqList, _ := s["required"].([]any)
			for _, r := range reqList {
				required[r.(string)] = true
			}
			fields := map[string]bool{}
			for _, f := range jsonFields(reflect.TypeOf(tt.v)) {
				fields[f.name] = true
				p := oaObj(props[f.name])
				if p == nil {
					t.Errorf("%s (Go %s) is not a property", f.name, f.typ)
					continue
				}
				if !tt.request && f.always && !required[f.name] {
					t.Errorf("%s is always in the answer but not required", f.name)
				}
				want, nullable := jsonType(f.typ)
				types := map[string]bool{}
				switch v := p["type"].(type) {
				case string:
					types[v] = true
				case []any:
					for _, e := range v {
						types[e.(string)] = true
					}
				}
				switch {
				case want == "":
				case want == "ref":
					if p["$ref"] == nil {
						t.Errorf("%s (Go %s) should reference a schema: %v", f.name, f.typ, p)
					}
				case !types[want]:
					t.Errorf("%s (Go %s) has type %v, want %s", f.name, f.typ, p["type"], want)
				}
				// A pointer or slice written even when nil is null then.
				if !tt.request && nullable && f.always && f.typ.Kind() == reflect.Pointer && !types["null"] {
					t.Errorf("%s (Go %s) is written as null when unset, but its type %v has no null", f.name, f.typ, p["type"])
				}
			}
			for name := range props {
				if !fields[name] {
					t.Errorf("property %s is no JSON field of %T", name, tt.v)
				}
			}
			for name := range required {
				if !fields[name] {
					t.Errorf("required %s is no JSON field of %T", name, tt.v)
				}
			}
			if tt.request && s["additionalProperties"] != false {
				t.Errorf("a request body refuses unknown fields: want additionalProperties false, not %v", s["additionalProperties"])
			}
		})
	}
}
