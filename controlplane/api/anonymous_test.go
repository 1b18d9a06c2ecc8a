package api_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/internal/testkit/teststore"
)

// TestAnonymousRefusalsCostNoBudget: requests refused for bad input (415,
// 400) or because the node cannot serve them (503) do not spend the
// client's anonymous create budget; created links do, and so does a
// taken alias (a write was tried).
func TestAnonymousRefusalsCostNoBudget(t *testing.T) {
	s := teststore.SQLite(t)
	const budget = 2
	lim := &limiter{left: map[string]int{}, n: budget}
	is := newIssuer(t, uint64(time.Now().UnixNano()%1e9))
	h, err := api.New(api.Config{PublicURL: testPublicURL, AnonymousCreate: true},
		api.Deps{Store: s, Issuer: is, Keys: &keyRing{}, AnonymousLimiter: lim})
	if err != nil {
		t.Fatal(err)
	}
	post := func(remote, contentType, body string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("POST", "http://sho.test/api/v1/links", strings.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		r.RemoteAddr = remote
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}

	const client = "192.0.2.1:1000"
	refusals := []struct {
		name, contentType, body string
		status                  int
		nodeDown                bool
	}{
		{"form body", "application/x-www-form-urlencoded", "url=https://example.com/", 415, false},
		{"not JSON", "application/json", "{", 400, false},
		{"unknown field", "application/json", `{"url":"https://example.com/","colour":"red"}`, 400, false},
		{"bad target", "application/json", `{"url":"javascript:alert(1)"}`, 400, false},
		{"bad alias", "application/json", `{"url":"https://example.com/","alias":"a/b"}`, 400, false},
		{"bad status", "application/json", `{"url":"https://example.com/","redirect_status":303}`, 400, false},
		// The node cannot issue IDs (starting, no lease, no leader).
		{"node not ready", "application/json", `{"url":"https://example.com/"}`, 503, true},
		{"node not ready, alias", "application/json", `{"url":"https://example.com/","alias":"` + uniqueAlias("nr") + `"}`, 503, true},
	}
	// More refusals than the budget: had any spent it, the creates below
	// would get 429.
	for range 2 {
		for _, tt := range refusals {
			if tt.nodeDown {
				is.err = errors.New("no worker-ID lease yet")
			}
			w := post(client, tt.contentType, tt.body)
			is.err = nil
			if w.Code != tt.status {
				t.Fatalf("%s: %d %s, want %d", tt.name, w.Code, w.Body.String(), tt.status)
			}
		}
	}
	for i := range budget {
		if w := post(client, "application/json", fmt.Sprintf(`{"url":"https://example.com/%d"}`, i)); w.Code != http.StatusCreated {
			t.Fatalf("create %d after %d refusals: %d %s", i, 2*len(refusals), w.Code, w.Body.String())
		}
	}
	wantProblem(t, post(client, "application/json", `{"url":"https://example.com/over"}`), 429, "too many")
	if lim.refunds != 4 {
		t.Errorf("%d refunds, want 4 (the 503s, which spent before the node refused)", lim.refunds)
	}

	// A taken alias spends the budget like a create.
	const other = "198.51.100.7:1000"
	alias := uniqueAlias("taken")
	if w := post(other, "application/json", `{"url":"https://example.com/","alias":"`+alias+`"}`); w.Code != http.StatusCreated {
		t.Fatalf("alias: %d %s", w.Code, w.Body.String())
	}
	wantProblem(t, post(other, "application/json", `{"url":"https://example.com/","alias":"`+alias+`"}`), 409, "taken")
	wantProblem(t, post(other, "application/json", `{"url":"https://example.com/"}`), 429, "too many")
}
