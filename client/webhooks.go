package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Webhook is a webhook endpoint of the workspace. Secret is set only in
// the answers of CreateWebhook and RotateWebhookSecret.
type Webhook struct {
	ID          string   `json:"id"`
	URL         string   `json:"url"`
	Events      []string `json:"events"`
	Description string   `json:"description"`
	Disabled    bool     `json:"disabled"`
	// DisabledReason is "user" (UpdateWebhook) or "failing" (every
	// delivery failed for 24 hours); "" when enabled.
	DisabledReason string     `json:"disabled_reason,omitempty"`
	DisabledAt     *time.Time `json:"disabled_at,omitempty"`
	FailingSince   *time.Time `json:"failing_since,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	Secret         string     `json:"secret,omitempty"`
}

// WebhookList is the answer of ListWebhooks.
type WebhookList struct {
	Webhooks []Webhook `json:"webhooks"`
}

// CreateWebhookRequest adds a webhook endpoint. Events are link.created,
// link.updated, link.deleted and link.clicked.
type CreateWebhookRequest struct {
	URL         string   `json:"url"`
	Events      []string `json:"events"`
	Description string   `json:"description,omitempty"`
}

// UpdateWebhookRequest changes a webhook endpoint; nil fields stay.
// Disabled false enables it and clears its failing state.
type UpdateWebhookRequest struct {
	URL         *string   `json:"url,omitempty"`
	Events      *[]string `json:"events,omitempty"`
	Description *string   `json:"description,omitempty"`
	Disabled    *bool     `json:"disabled,omitempty"`
}

// WebhookDelivery is one entry of an endpoint's delivery log.
type WebhookDelivery struct {
	// ID is the message's webhook-id header.
	ID    string `json:"id"`
	Event string `json:"event"`
	// State is pending, delivered or failed.
	State       string          `json:"state"`
	Attempts    int             `json:"attempts"`
	LastStatus  int             `json:"last_status,omitempty"`
	LastError   string          `json:"last_error,omitempty"`
	CreatedAt   time.Time       `json:"created_at"`
	LastAttempt *time.Time      `json:"last_attempt,omitempty"`
	NextAttempt *time.Time      `json:"next_attempt,omitempty"`
	Payload     json.RawMessage `json:"payload"`
}

// WebhookDeliveryPage is a page of a delivery log, newest first.
type WebhookDeliveryPage struct {
	Deliveries []WebhookDelivery `json:"deliveries"`
	NextCursor string            `json:"next_cursor,omitempty"`
}

// WebhookDeliveriesQuery selects a page of a delivery log; zero fields
// are left out.
type WebhookDeliveriesQuery struct {
	// State is pending, delivered or failed.
	State string
	// Cursor is the NextCursor of the page before.
	Cursor string
	Limit  int
}

func (q WebhookDeliveriesQuery) values() url.Values {
	v := url.Values{}
	if q.State != "" {
		v.Set("state", q.State)
	}
	if q.Cursor != "" {
		v.Set("cursor", q.Cursor)
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	return v
}

func webhookPath(id string) string { return "/api/v1/webhooks/" + seg(id) }

// CreateWebhook adds an endpoint to the workspace (POST
// /api/v1/webhooks); the answer holds its signing secret, shown this once.
func (c *Client) CreateWebhook(ctx context.Context, req CreateWebhookRequest) (*Webhook, error) {
	return send[Webhook](ctx, c, http.MethodPost, "/api/v1/webhooks", nil, req)
}

// ListWebhooks lists the workspace's endpoints, without secrets (GET
// /api/v1/webhooks).
func (c *Client) ListWebhooks(ctx context.Context) ([]Webhook, error) {
	r, err := get[WebhookList](ctx, c, "/api/v1/webhooks", nil)
	if err != nil {
		return nil, err
	}
	return r.Webhooks, nil
}

// GetWebhook returns an endpoint, without its secret (GET
// /api/v1/webhooks/{id}).
func (c *Client) GetWebhook(ctx context.Context, id string) (*Webhook, error) {
	return get[Webhook](ctx, c, webhookPath(id), nil)
}

// UpdateWebhook changes an endpoint (PATCH /api/v1/webhooks/{id}).
func (c *Client) UpdateWebhook(ctx context.Context, id string, req UpdateWebhookRequest) (*Webhook, error) {
	return send[Webhook](ctx, c, http.MethodPatch, webhookPath(id), nil, req)
}

// DeleteWebhook removes an endpoint and its delivery log (DELETE
// /api/v1/webhooks/{id}).
func (c *Client) DeleteWebhook(ctx context.Context, id string) error {
	return c.call(ctx, request{method: http.MethodDelete, path: webhookPath(id)}, nil)
}

// RotateWebhookSecret gives an endpoint a new signing secret, in the
// answer only (POST /api/v1/webhooks/{id}/rotate-secret).
func (c *Client) RotateWebhookSecret(ctx context.Context, id string) (*Webhook, error) {
	return send[Webhook](ctx, c, http.MethodPost, webhookPath(id)+"/rotate-secret", nil, nil)
}

// WebhookDeliveries reads a page of an endpoint's delivery log (GET
// /api/v1/webhooks/{id}/deliveries).
func (c *Client) WebhookDeliveries(ctx context.Context, id string, q WebhookDeliveriesQuery) (*WebhookDeliveryPage, error) {
	return get[WebhookDeliveryPage](ctx, c, webhookPath(id)+"/deliveries", q.values())
}

// ReplayWebhookDelivery makes a delivery pending again, due now (POST
// /api/v1/webhooks/{id}/deliveries/{delivery}/replay).
func (c *Client) ReplayWebhookDelivery(ctx context.Context, id, delivery string) (*WebhookDelivery, error) {
	return send[WebhookDelivery](ctx, c, http.MethodPost, webhookPath(id)+"/deliveries/"+seg(delivery)+"/replay", nil, nil)
}
