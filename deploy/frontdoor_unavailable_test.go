package deploy_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/shortify/shortify/internal/testkit/testenv"
)

// TestFrontDoorControlPlaneUnavailable: with no control-plane node to
// take a request (here none listens; in the fault suite every node fails
// its readiness check while the PostgreSQL primary is down), the front
// door answers an API request as a node would: 503 with Retry-After and
// a problem document, not Caddy's empty 502 or 503 (docs/faults.md,
// fault 2).
func TestFrontDoorControlPlaneUnavailable(t *testing.T) {
	t.Parallel()
	fd := runCaddy(t, frontDoor, map[string]string{
		"SHORTIFY_EDGE_UPSTREAMS":          testenv.FreeAddr(t),
		"SHORTIFY_CONTROL_PLANE_UPSTREAMS": testenv.FreeAddr(t),
	})
	resp, err := http.Post("http://"+fd.Public+"/api/v1/links", "application/json", strings.NewReader(`{"url":"https://example.com/"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" ||
		resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("POST /api/v1/links with no control plane: %d, Retry-After %q, Content-Type %q: %s",
			resp.StatusCode, resp.Header.Get("Retry-After"), resp.Header.Get("Content-Type"), body)
	}
	var p struct {
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}
	if err := json.Unmarshal(body, &p); err != nil || p.Status != http.StatusServiceUnavailable || p.Detail == "" {
		t.Errorf("problem document %s: %+v %v", body, p, err)
	}
	// A short code is not an API request: the edges' errors stay Caddy's.
	resp, err = http.Get("http://" + fd.Public + "/abc123")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("Content-Type") == "application/problem+json" {
		t.Errorf("GET /abc123 with no edge answered the API's problem document")
	}
}
