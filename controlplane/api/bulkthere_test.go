package api_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/internal/linkstore"
)

// insertCounting is a real store that counts the links CreateMany is asked
// to insert.
type insertCounting struct {
	linkstore.Store
	links atomic.Int64
}

func (c *insertCounting) CreateMany(ctx context.Context, ls []linkstore.Link) []error {
	c.links.Add(int64(len(ls)))
	return c.Store.CreateMany(ctx, ls)
}

// TestBulkAlreadyThere: on both stores, a bulk create's links whose
// external_id the workspace has already are answered with the existing
// link (409, as the store's refusal is) without being sent to the store
// to insert, while the request's new links are created.
func TestBulkAlreadyThere(t *testing.T) {
	for name, open := range backends(t) {
		t.Run(name, func(t *testing.T) {
			store := &insertCounting{Store: open(t)}
			e := newEnv(t, store, api.Config{})
			bulk := func(body string) []api.BulkResult {
				t.Helper()
				w := e.do(t, "POST", "/api/v1/links/bulk", "application/json", body)
				if w.Code != http.StatusOK {
					t.Fatalf("bulk: %d %s", w.Code, w.Body.String())
				}
				return decode[api.BulkResponse](t, w).Results
			}
			first := bulk(`{"links":[{"url":"https://example.com/a","external_id":"x:a"},{"url":"https://example.com/b","external_id":"x:b"}]}`)
			if first[0].Status != http.StatusCreated || first[1].Status != http.StatusCreated {
				t.Fatalf("first run: %+v", first)
			}
			before := store.links.Load()
			again := bulk(`{"links":[{"url":"https://example.com/a","external_id":"x:a"},{"url":"https://example.com/c","external_id":"x:c"},{"url":"https://example.com/b","external_id":"x:b"}]}`)
			for k, i := range []int{0, 2} {
				r := again[i]
				if r.Status != http.StatusConflict || r.Error == nil || r.Error.Field != "external_id" || r.Error.Code != first[k].Link.Code ||
					r.Link == nil || r.Link.Code != first[k].Link.Code || r.Link.URL != first[k].Link.URL {
					t.Errorf("second run, item %d: %d %+v (link %+v), want 409 with link %s", i, r.Status, r.Error, r.Link, first[k].Link.Code)
				}
			}
			if r := again[1]; r.Status != http.StatusCreated || r.Link.ExternalID != "x:c" {
				t.Errorf("second run, new item: %+v", r)
			}
			if sent := store.links.Load() - before; sent != 1 {
				t.Errorf("the second run sent %d links to insert, want 1 (the new one)", sent)
			}
		})
	}
}
