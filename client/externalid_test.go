package client_test

import (
	"errors"
	"net/http"
	"testing"

	"github.com/shortify/shortify/client"
)

// External IDs through the client: set on create, filtered on, a second
// bulk import that creates nothing and gets the existing links back, the
// 409's Problem naming the existing link, and a PATCH that clears it.
func TestExternalID(t *testing.T) {
	s := newStack(t)
	c := s.client(t)
	ctx := t.Context()
	l, err := c.CreateLink(ctx, client.CreateLinkRequest{URL: "https://example.com/x", Alias: "extone", ExternalID: "crm:1"})
	if err != nil || l.ExternalID != "crm:1" || l.Clicks != 0 {
		t.Fatalf("create: %+v, %v", l, err)
	}
	_, err = c.CreateLink(ctx, client.CreateLinkRequest{URL: "https://example.com/y", ExternalID: "crm:1"})
	var p *client.Problem
	if !errors.As(err, &p) || p.Status != http.StatusConflict || p.Field != "external_id" || p.Code != "extone" {
		t.Fatalf("create with a taken external ID: %v, want a 409 naming extone", err)
	}
	bulk, err := c.CreateLinksBulk(ctx, []client.CreateLinkRequest{{URL: "https://example.com/x", ExternalID: "crm:1"}})
	if err != nil || bulk.Created != 0 || bulk.Results[0].Status != http.StatusConflict || bulk.Results[0].Link == nil || bulk.Results[0].Link.Code != "extone" {
		t.Fatalf("bulk import again: %+v, %v", bulk, err)
	}
	page, err := c.ListLinks(ctx, client.ListLinksQuery{ExternalID: "crm:1", Sort: "clicks"})
	if err != nil || len(page.Links) != 1 || page.Links[0].Code != "extone" {
		t.Fatalf("list by external ID: %+v, %v", page, err)
	}
	none := ""
	if l, err := c.UpdateLink(ctx, "extone", "", client.UpdateLinkRequest{ExternalID: &none}); err != nil || l.ExternalID != "" {
		t.Fatalf("clear: %+v, %v", l, err)
	}
}
