package client_test

import (
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/shortify/shortify/client"
)

// routes maps every operation of the two OpenAPI documents to the
// client's method; TestRoutesInStep checks both ways.
var routes = map[string]string{
	"POST /api/v1/links":                                      "CreateLink",
	"GET /api/v1/tags":                                        "Tags",
	"POST /api/v1/webhooks":                                   "CreateWebhook",
	"GET /api/v1/webhooks":                                    "ListWebhooks",
	"GET /api/v1/webhooks/{id}":                               "GetWebhook",
	"PATCH /api/v1/webhooks/{id}":                             "UpdateWebhook",
	"DELETE /api/v1/webhooks/{id}":                            "DeleteWebhook",
	"POST /api/v1/webhooks/{id}/rotate-secret":                "RotateWebhookSecret",
	"GET /api/v1/webhooks/{id}/deliveries":                    "WebhookDeliveries",
	"POST /api/v1/webhooks/{id}/deliveries/{delivery}/replay": "ReplayWebhookDelivery",
	"PATCH /api/v1/tags/{tag}":                                "RenameTag",
	"DELETE /api/v1/tags/{tag}":                               "DeleteTag",
	"GET /api/v1/links":                                       "ListLinks",
	"POST /api/v1/links/bulk":                                 "CreateLinksBulk",
	"GET /api/v1/links/{code}":                                "GetLink",
	"PATCH /api/v1/links/{code}":                              "UpdateLink",
	"DELETE /api/v1/links/{code}":                             "DeleteLink",
	"GET /api/v1/links/{code}/qr":                             "LinkQR",
	"GET /api/v1/admin/keys":                                  "ListKeys",
	"POST /api/v1/admin/keys":                                 "CreateKey",
	"DELETE /api/v1/admin/keys/{id}":                          "RevokeKey",
	"GET /api/v1/healthz":                                     "Health",
	"GET /api/v1/readyz":                                      "Ready",
	"GET /api/v1/cluster":                                     "Cluster",
	"POST /api/v1/cluster/join":                               "JoinCluster",
	"DELETE /api/v1/cluster/nodes/{id}":                       "RemoveClusterNode",
	"GET /api/v1/cluster/backup":                              "Backup",
	"GET /api/v1/admin/partitions":                            "ListPartitions",
	"POST /api/v1/admin/partitions":                           "CreatePartitions",
	"GET /api/v1/admin/partitions/policy":                     "PartitionPolicy",
	"PUT /api/v1/admin/partitions/policy":                     "SetPartitionPolicy",
	"DELETE /api/v1/admin/partitions/{name}":                  "DropPartition",
	"GET /api/v1/openapi.json":                                "OpenAPI",
	"GET /api/v1/admin/blocklist":                             "ListBlockedDomains",
	"PUT /api/v1/admin/blocklist/{domain}":                    "BlockDomain",
	"DELETE /api/v1/admin/blocklist/{domain}":                 "UnblockDomain",
	"GET /api/v1/admin/review":                                "ListFlaggedLinks",
	"DELETE /api/v1/admin/review/{code}":                      "ResolveFlaggedLink",
	"POST /api/v1/admin/links/{code}/takedown":                "TakeDownLink",
	"DELETE /api/v1/admin/links/{code}/takedown":              "LiftTakedown",
	"DELETE /api/v1/admin/codes/{code}":                       "ReleaseCode",
	"GET /api/v1/admin/audit":                                 "ListAudit",
	"POST /api/v1/reports":                                    "CreateReport",
	"GET /api/v1/reports/form.js":                             "ReportFormScript",
	"GET /report":                                             "ReportForm",
	"GET /api/v1/admin/reports":                               "ListReports",
	"POST /api/v1/admin/reports/{id}/resolve":                 "ResolveReport",
	"GET /api/v1/domains/allowed":                             "DomainAllowed",
	"POST /api/v1/workspaces":                                 "CreateWorkspace",
	"GET /api/v1/workspaces":                                  "ListWorkspaces",
	"GET /api/v1/workspaces/{id}":                             "GetWorkspace",
	"PATCH /api/v1/workspaces/{id}":                           "UpdateWorkspace",
	"DELETE /api/v1/workspaces/{id}":                          "DeleteWorkspace",
	"POST /api/v1/domains":                                    "CreateDomain",
	"GET /api/v1/domains":                                     "ListDomains",
	"GET /api/v1/domains/{domain}":                            "GetDomain",
	"PATCH /api/v1/domains/{domain}":                          "UpdateDomain",
	"DELETE /api/v1/domains/{domain}":                         "DeleteDomain",
	"POST /api/v1/domains/{domain}/verify":                    "VerifyDomain",
	"GET /api/v1/stats/overview":                              "StatsOverview",
	"GET /api/v1/stats/top/{dimension}":                       "StatsTop",
	"GET /api/v1/stats/links/{code}":                          "LinkStats",
	"GET /api/v1/stats/links/{code}/top/{dimension}":          "LinkTop",
	"GET /api/v1/stats/links/{code}/series.csv":               "LinkSeriesCSV",
	"GET /api/v1/stats/openapi.json":                          "StatsOpenAPI",
	"GET /api/v1/stats/workspace":                             "StatsWorkspace",
}

// documents are the two OpenAPI documents, as the servers embed them.
var documents = map[string]string{
	"controlplane": "../controlplane/api/openapi.json",
	"stats":        "../stats/api/openapi.json",
}

type schema struct {
	Ref        string            `json:"$ref"`
	Properties map[string]schema `json:"properties"`
	AllOf      []schema          `json:"allOf"`
}

type document struct {
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas map[string]schema `json:"schemas"`
	} `json:"components"`
}

func load(t *testing.T, path string) document {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d document
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return d
}

var httpMethods = []string{"get", "put", "post", "patch", "delete", "head", "options"}

// TestRoutesInStep checks that every operation of both documents has a
// client method and that the table names no route the documents lack.
func TestRoutesInStep(t *testing.T) {
	ct := reflect.TypeFor[*client.Client]()
	seen := map[string]bool{}
	for name, path := range documents {
		d := load(t, path)
		for p, ops := range d.Paths {
			for m := range ops {
				if !slices.Contains(httpMethods, m) {
					continue
				}
				route := strings.ToUpper(m) + " " + p
				seen[route] = true
				method, ok := routes[route]
				if !ok {
					t.Errorf("%s: %s has no client method in the routes table", name, route)
					continue
				}
				if _, ok := ct.MethodByName(method); !ok {
					t.Errorf("%s: %s maps to %s, which *client.Client lacks", name, route, method)
				}
			}
		}
	}
	for route := range routes {
		if !seen[route] {
			t.Errorf("routes table names %s, which neither document has", route)
		}
	}
}

// schemaTypes pairs the documents' schemas with the client's types.
var schemaTypes = []struct {
	doc, schema string
	typ         reflect.Type
}{
	{"controlplane", "Problem", reflect.TypeFor[client.Problem]()},
	{"controlplane", "Link", reflect.TypeFor[client.Link]()},
	{"controlplane", "TagCount", reflect.TypeFor[client.TagCount]()},
	{"controlplane", "TagList", reflect.TypeFor[client.TagList]()},
	{"controlplane", "RenameTagRequest", reflect.TypeFor[client.RenameTagRequest]()},
	{"controlplane", "TagChange", reflect.TypeFor[client.TagChange]()},
	{"controlplane", "Webhook", reflect.TypeFor[client.Webhook]()},
	{"controlplane", "WebhookList", reflect.TypeFor[client.WebhookList]()},
	{"controlplane", "CreateWebhookRequest", reflect.TypeFor[client.CreateWebhookRequest]()},
	{"controlplane", "UpdateWebhookRequest", reflect.TypeFor[client.UpdateWebhookRequest]()},
	{"controlplane", "WebhookDelivery", reflect.TypeFor[client.WebhookDelivery]()},
	{"controlplane", "WebhookDeliveryPage", reflect.TypeFor[client.WebhookDeliveryPage]()},
	{"controlplane", "CreateLinkRequest", reflect.TypeFor[client.CreateLinkRequest]()},
	{"controlplane", "UpdateLinkRequest", reflect.TypeFor[client.UpdateLinkRequest]()},
	{"controlplane", "LinkPage", reflect.TypeFor[client.LinkPage]()},
	{"controlplane", "BulkResult", reflect.TypeFor[client.BulkResult]()},
	{"controlplane", "BulkResponse", reflect.TypeFor[client.BulkResponse]()},
	{"controlplane", "KeyInfo", reflect.TypeFor[client.KeyInfo]()},
	{"controlplane", "NewKey", reflect.TypeFor[client.NewKey]()},
	{"controlplane", "CreateKeyRequest", reflect.TypeFor[client.CreateKeyRequest]()},
	{"controlplane", "Partition", reflect.TypeFor[client.Partition]()},
	{"controlplane", "PartitionList", reflect.TypeFor[client.PartitionList]()},
	{"controlplane", "CreatedPartitions", reflect.TypeFor[client.CreatedPartitions]()},
	{"controlplane", "CreatePartitionsRequest", reflect.TypeFor[client.CreatePartitionsRequest]()},
	{"controlplane", "PartitionPolicy", reflect.TypeFor[client.PartitionPolicy]()},
	{"controlplane", "PartitionCatalogueEntry", reflect.TypeFor[client.PartitionCatalogueEntry]()},
	{"controlplane", "ClusterInfo", reflect.TypeFor[client.ClusterInfo]()},
	{"controlplane", "ClusterMember", reflect.TypeFor[client.ClusterMember]()},
	{"controlplane", "JoinRequest", reflect.TypeFor[client.JoinRequest]()},
	{"controlplane", "HealthStatus", reflect.TypeFor[client.HealthStatus]()},
	{"controlplane", "ReadyStatus", reflect.TypeFor[client.HealthStatus]()},
	{"controlplane", "Review", reflect.TypeFor[client.Review]()},
	{"controlplane", "Takedown", reflect.TypeFor[client.Takedown]()},
	{"controlplane", "TakedownRequest", reflect.TypeFor[client.TakedownRequest]()},
	{"controlplane", "AuditEntry", reflect.TypeFor[client.AuditEntry]()},
	{"controlplane", "AuditPage", reflect.TypeFor[client.AuditPage]()},
	{"controlplane", "ReportRequest", reflect.TypeFor[client.ReportRequest]()},
	{"controlplane", "ReportAccepted", reflect.TypeFor[client.ReportAccepted]()},
	{"controlplane", "ReportInfo", reflect.TypeFor[client.ReportInfo]()},
	{"controlplane", "ReportPage", reflect.TypeFor[client.ReportPage]()},
	{"controlplane", "ResolveRequest", reflect.TypeFor[client.ResolveRequest]()},
	{"controlplane", "WorkspaceLimits", reflect.TypeFor[client.WorkspaceLimits]()},
	{"controlplane", "WorkspaceLimitsPatch", reflect.TypeFor[client.WorkspaceLimitsPatch]()},
	{"controlplane", "Workspace", reflect.TypeFor[client.Workspace]()},
	{"controlplane", "CreateWorkspaceRequest", reflect.TypeFor[client.CreateWorkspaceRequest]()},
	{"controlplane", "UpdateWorkspaceRequest", reflect.TypeFor[client.UpdateWorkspaceRequest]()},
	{"controlplane", "DomainChallenge", reflect.TypeFor[client.DomainChallenge]()},
	{"controlplane", "Domain", reflect.TypeFor[client.Domain]()},
	{"controlplane", "CreateDomainRequest", reflect.TypeFor[client.CreateDomainRequest]()},
	{"controlplane", "UpdateDomainRequest", reflect.TypeFor[client.UpdateDomainRequest]()},
	{"controlplane", "SmartConditions", reflect.TypeFor[client.SmartConditions]()},
	{"controlplane", "SmartRule", reflect.TypeFor[client.SmartRule]()},
	{"controlplane", "SmartTarget", reflect.TypeFor[client.SmartTarget]()},
	{"controlplane", "SmartPreview", reflect.TypeFor[client.SmartPreview]()},
	{"controlplane", "UTM", reflect.TypeFor[client.UTM]()},
	{"controlplane", "BulkRequest", reflect.TypeFor[client.BulkRequest]()},
	{"controlplane", "KeyList", reflect.TypeFor[client.KeyList]()},
	{"controlplane", "DomainList", reflect.TypeFor[client.DomainList]()},
	{"controlplane", "WorkspaceList", reflect.TypeFor[client.WorkspaceList]()},
	{"stats", "Problem", reflect.TypeFor[client.Problem]()},
	{"stats", "Counts", reflect.TypeFor[client.Counts]()},
	{"stats", "Point", reflect.TypeFor[client.Point]()},
	{"stats", "Series", reflect.TypeFor[client.Series]()},
	{"stats", "LinkStats", reflect.TypeFor[client.LinkStats]()},
	{"stats", "TopLink", reflect.TypeFor[client.TopLink]()},
	{"stats", "Overview", reflect.TypeFor[client.Overview]()},
	{"stats", "TopItem", reflect.TypeFor[client.TopItem]()},
	{"stats", "Top", reflect.TypeFor[client.Top]()},
	{"stats", "Workspace", reflect.TypeFor[client.StatsWorkspace]()},
	{"stats", "WorkspaceView", reflect.TypeFor[client.WorkspaceView]()},
}

// properties are a schema's property names, through $ref and allOf.
func properties(d document, s schema, into map[string]bool) {
	if s.Ref != "" {
		properties(d, d.Components.Schemas[s.Ref[strings.LastIndex(s.Ref, "/")+1:]], into)
	}
	for _, a := range s.AllOf {
		properties(d, a, into)
	}
	for p := range s.Properties {
		into[p] = true
	}
}

// jsonFields are the JSON names encoding/json gives t's fields,
// embedded structs flattened.
func jsonFields(t reflect.Type, into map[string]bool) {
	for f := range t.Fields() {
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			jsonFields(f.Type, into)
			continue
		}
		if name == "" {
			name = f.Name
		}
		into[name] = true
	}
}

// TestSchemasInStep checks that the client's types have exactly the
// JSON fields of the documents' schemas, and that every schema of the
// documents has its type here.
func TestSchemasInStep(t *testing.T) {
	docs := map[string]document{}
	for name, path := range documents {
		docs[name] = load(t, path)
	}
	covered := map[string]bool{}
	for _, tc := range schemaTypes {
		covered[tc.doc+"/"+tc.schema] = true
		t.Run(tc.doc+"/"+tc.schema, func(t *testing.T) {
			d := docs[tc.doc]
			s, ok := d.Components.Schemas[tc.schema]
			if !ok {
				t.Fatalf("the %s document has no schema %s", tc.doc, tc.schema)
			}
			want, got := map[string]bool{}, map[string]bool{}
			properties(d, s, want)
			jsonFields(tc.typ, got)
			for p := range want {
				if !got[p] {
					t.Errorf("%s has no field for property %q", tc.typ, p)
				}
			}
			for f := range got {
				if !want[f] {
					t.Errorf("%s has field %q, which schema %s lacks", tc.typ, f, tc.schema)
				}
			}
		})
	}
	for name, d := range docs {
		for s := range d.Components.Schemas {
			if !covered[name+"/"+s] {
				t.Errorf("the %s document's schema %s has no client type in schemaTypes", name, s)
			}
		}
	}
}
