package api_test

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/internal/testkit/teststore"
)

// policyStore is an in-memory api.PartitionPolicyStore, standing in for
// the Raft FSM's (which the fsm package tests).
type policyStore struct {
	mu  sync.Mutex
	p   api.PartitionPolicy
	set bool
}

func (s *policyStore) PartitionPolicy() (api.PartitionPolicy, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.p, s.set
}

func (s *policyStore) SetPartitionPolicy(_ context.Context, p api.PartitionPolicy) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.p, s.set = p, true
	return nil
}

func TestPartitionPolicy(t *testing.T) {
	ps := &policyStore{}
	e := newEnvDeps(t, api.Config{}, api.Deps{Store: teststore.SQLite(t), PartitionPolicy: ps})
	const path = "/api/v1/admin/partitions/policy"

	wantProblem(t, e.do(t, "GET", path, "", ""), http.StatusNotFound, "no partition policy")

	w := e.do(t, "PUT", path, "application/json", `{"months_ahead":6,"retention_days":90,"detach":true}`)
	want := api.PartitionPolicy{MonthsAhead: 6, RetentionDays: 90, Detach: true}
	if w.Code != http.StatusOK || decode[api.PartitionPolicy](t, w) != want {
		t.Fatalf("PUT: %d %s", w.Code, w.Body.String())
	}
	w = e.do(t, "GET", path, "", "")
	if w.Code != http.StatusOK || decode[api.PartitionPolicy](t, w) != want {
		t.Fatalf("GET: %d %s", w.Code, w.Body.String())
	}

	for body, field := range map[string]string{
		`{"retention_days":90}`:                     "months_ahead",
		`{"months_ahead":0,"retention_days":90}`:    "months_ahead",
		`{"months_ahead":25,"retention_days":90}`:   "months_ahead",
		`{"months_ahead":3}`:                        "retention_days",
		`{"months_ahead":3,"retention_days":0}`:     "retention_days",
		`{"months_ahead":3,"retention_days":36501}`: "retention_days",
	} {
		p := wantProblem(t, e.do(t, "PUT", path, "application/json", body), http.StatusBadRequest, field)
		if p.Field != field {
			t.Errorf("%s: field %q, want %q", body, p.Field, field)
		}
	}
	wantProblem(t, e.do(t, "PUT", path, "application/json", `{"months_ahead":3,"retention_days":9,"extra":1}`), http.StatusBadRequest, "")
	wantProblem(t, e.do(t, "PUT", path, "application/json", `{"months_ahead":"3","retention_days":9}`), http.StatusBadRequest, "")
	if got, _ := ps.PartitionPolicy(); got != want {
		t.Fatalf("bad requests changed the policy to %+v", got)
	}

	// Without a policy store behind the API the routes answer 503.
	e2 := newEnv(t, e.store, api.Config{})
	wantProblem(t, e2.do(t, "GET", path, "", ""), http.StatusServiceUnavailable, "no partition policy")
}
