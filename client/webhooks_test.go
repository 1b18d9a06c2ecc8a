package client_test

import (
	"strings"
	"testing"

	"github.com/shortify/shortify/client"
	"github.com/shortify/shortify/webhooks"
)

// Webhooks through the client: create (the secret once), list, update,
// the delivery log with its state filter and cursor, replay, rotate the
// secret, delete.
func TestWebhooks(t *testing.T) {
	s := newStack(t)
	c := s.client(t)
	ctx := t.Context()
	w, err := c.CreateWebhook(ctx, client.CreateWebhookRequest{URL: "https://hooks.example.com/in", Events: []string{"link.created"}, Description: "CRM"})
	if err != nil || !strings.HasPrefix(w.Secret, "whsec_") || w.Events[0] != "link.created" {
		t.Fatalf("create: %+v, %v", w, err)
	}
	if _, err := c.CreateWebhook(ctx, client.CreateWebhookRequest{URL: "http://127.0.0.1/in", Events: []string{"link.created"}}); !isStatus(err, 400) {
		t.Errorf("a loopback URL: %v, want a 400", err)
	}
	list, err := c.ListWebhooks(ctx)
	if err != nil || len(list) != 1 || list[0].ID != w.ID || list[0].Secret != "" {
		t.Fatalf("list: %+v, %v", list, err)
	}
	events := []string{"link.created", "link.deleted"}
	off := true
	got, err := c.UpdateWebhook(ctx, w.ID, client.UpdateWebhookRequest{Events: &events, Disabled: &off})
	if err != nil || len(got.Events) != 2 || !got.Disabled || got.DisabledReason != "user" {
		t.Fatalf("update: %+v, %v", got, err)
	}
	if got, err := c.GetWebhook(ctx, w.ID); err != nil || !got.Disabled || got.Secret != "" {
		t.Errorf("get: %+v, %v", got, err)
	}

	ds := make([]webhooks.Delivery, 3)
	for i, id := range []string{"msg_a", "msg_b", "msg_c"} {
		ds[i] = webhooks.Delivery{ID: id, Endpoint: w.ID, Workspace: 1, Event: webhooks.LinkCreated, Payload: []byte(`{"type":"link.created"}`)}
	}
	if err := s.hooks.Enqueue(ctx, ds); err != nil {
		t.Fatal(err)
	}
	page, err := c.WebhookDeliveries(ctx, w.ID, client.WebhookDeliveriesQuery{Limit: 2})
	if err != nil || len(page.Deliveries) != 2 || page.Deliveries[0].ID != "msg_c" || page.NextCursor == "" {
		t.Fatalf("first page: %+v, %v", page, err)
	}
	page, err = c.WebhookDeliveries(ctx, w.ID, client.WebhookDeliveriesQuery{Limit: 2, Cursor: page.NextCursor})
	if err != nil || len(page.Deliveries) != 1 || page.Deliveries[0].ID != "msg_a" || string(page.Deliveries[0].Payload) != `{"type":"link.created"}` {
		t.Fatalf("second page: %+v, %v", page, err)
	}
	// Enqueued after the endpoint was disabled: pending, none failed.
	page, err = c.WebhookDeliveries(ctx, w.ID, client.WebhookDeliveriesQuery{State: "failed"})
	if err != nil || len(page.Deliveries) != 0 {
		t.Errorf("failed: %+v, %v; want none", page, err)
	}
	d, err := c.ReplayWebhookDelivery(ctx, w.ID, "msg_b")
	if err != nil || d.State != "pending" || d.NextAttempt == nil {
		t.Errorf("replay: %+v, %v", d, err)
	}
	rotated, err := c.RotateWebhookSecret(ctx, w.ID)
	if err != nil || rotated.Secret == w.Secret || !strings.HasPrefix(rotated.Secret, "whsec_") {
		t.Errorf("rotate: %+v, %v", rotated, err)
	}
	if err := c.DeleteWebhook(ctx, w.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetWebhook(ctx, w.ID); !isStatus(err, 404) {
		t.Errorf("after delete: %v, want a 404", err)
	}
}
