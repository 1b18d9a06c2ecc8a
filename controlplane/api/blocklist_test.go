package api_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/internal/testkit/teststore"
)

// blocklist is an in-memory api.Blocklist, standing in for the Raft FSM's
// (which the fsm package tests).
type blocklist struct {
	mu      sync.Mutex
	domains []string
}

func (b *blocklist) BlockedDomains() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.domains)
}

func (b *blocklist) DomainBlocked(host string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, d := range b.domains {
		if host == d || strings.HasSuffix(host, "."+d) {
			return true
		}
	}
	return false
}

func (b *blocklist) SetDomainBlocked(_ context.Context, d string, on bool) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.domains = slices.DeleteFunc(b.domains, func(x string) bool { return x == d })
	if on {
		b.domains = append(b.domains, d)
		slices.Sort(b.domains)
	}
	return nil
}

func TestBlocklist(t *testing.T) {
	bl := &blocklist{}
	e := newEnvDeps(t, api.Config{}, api.Deps{Store: teststore.SQLite(t), Blocklist: bl})
	ok := e.mustCreate(t, `{"url":"https://www.spam.example/offer"}`)

	if w := e.do(t, "PUT", "/api/v1/admin/blocklist/Spam.Example", "", ""); w.Code != http.StatusNoContent {
		t.Fatalf("block: %d %s", w.Code, w.Body.String())
	}
	w := e.do(t, "GET", "/api/v1/admin/blocklist", "", "")
	if got := decode[map[string][]string](t, w)["domains"]; !slices.Equal(got, []string{"spam.example"}) {
		t.Fatalf("blocklist = %v", got)
	}
	wantProblem(t, e.do(t, "POST", "/api/v1/links", "application/json", `{"url":"https://www.spam.example/x"}`), 400, "spam.example is blocked")
	wantProblem(t, e.do(t, "PATCH", "/api/v1/links/"+ok.Code, "application/json", `{"url":"https://spam.example/y"}`), 400, "blocked")
	w = e.do(t, "POST", "/api/v1/links/bulk", "application/json", `{"links":[{"url":"https://spam.example/"},{"url":"https://fine.example/"}]}`)
	if resp := decode[api.BulkResponse](t, w); resp.Created != 1 || resp.Results[0].Status != 400 {
		t.Fatalf("bulk with a blocked domain: %+v", resp)
	}
	e.mustCreate(t, `{"url":"https://notspam.example/"}`)
	wantProblem(t, e.do(t, "PUT", "/api/v1/admin/blocklist/not_a_host", "", ""), 400, "not a host name")

	if w := e.do(t, "DELETE", "/api/v1/admin/blocklist/spam.example", "", ""); w.Code != http.StatusNoContent {
		t.Fatalf("unblock: %d", w.Code)
	}
	e.mustCreate(t, `{"url":"https://spam.example/back"}`)
}
