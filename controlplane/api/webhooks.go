package api

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/shortify/shortify/internal/apiquery"
	"github.com/shortify/shortify/internal/base62"
	"github.com/shortify/shortify/internal/problem"
	"github.com/shortify/shortify/webhooks"
)

// Webhook is a webhook endpoint as the API shows it. Secret is there only
// in the answers of the create and of rotate-secret.
type Webhook struct {
	ID             string     `json:"id"`
	URL            string     `json:"url"`
	Events         []string   `json:"events"`
	Description    string     `json:"description"`
	Disabled       bool       `json:"disabled"`
	DisabledReason string     `json:"disabled_reason,omitempty"`
	DisabledAt     *time.Time `json:"disabled_at,omitempty"`
	FailingSince   *time.Time `json:"failing_since,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	Secret         string     `json:"secret,omitempty"`
}

// WebhookList is the answer of GET /api/v1/webhooks.
type WebhookList struct {
	Webhooks []Webhook `json:"webhooks"`
}

// CreateWebhookRequest is the body of POST /api/v1/webhooks.
type CreateWebhookRequest struct {
	URL         string   `json:"url"`
	Events      []string `json:"events"`
	Description string   `json:"description,omitempty"`
}

// UpdateWebhookRequest is the body of PATCH /api/v1/webhooks/{id}: the
// fields given change, the others stay. Disabled false enables the
// endpoint and clears its failing state.
type UpdateWebhookRequest struct {
	URL         *string   `json:"url,omitempty"`
	Events      *[]string `json:"events,omitempty"`
	Description *string   `json:"description,omitempty"`
	Disabled    *bool     `json:"disabled,omitempty"`
}

// WebhookDelivery is one entry of an endpoint's delivery log.
type WebhookDelivery struct {
	ID          string          `json:"id"`
	Event       string          `json:"event"`
	State       string          `json:"state"`
	Attempts    int             `json:"attempts"`
	LastStatus  int             `json:"last_status,omitempty"`
	LastError   string          `json:"last_error,omitempty"`
	CreatedAt   time.Time       `json:"created_at"`
	LastAttempt *time.Time      `json:"last_attempt,omitempty"`
	NextAttempt *time.Time      `json:"next_attempt,omitempty"`
	Payload     json.RawMessage `json:"payload"`
}

// WebhookDeliveryPage is a page of an endpoint's delivery log, newest
// first.
type WebhookDeliveryPage struct {
	Deliveries []WebhookDelivery `json:"deliveries"`
	NextCursor string            `json:"next_cursor,omitempty"`
}

func (h *Handler) webhookRoutes() {
	// Reading endpoints and their log is a viewer's; managing them a
	// workspace admin's: an endpoint receives every event of the
	// workspace, a channel out of it as wide as an API key.
	h.handle("POST /api/v1/webhooks", wsAdmin, h.createWebhook)
	h.handle("GET /api/v1/webhooks", viewer, h.listWebhooks)
	h.handle("GET /api/v1/webhooks/{id}", viewer, h.getWebhook)
	h.handle("PATCH /api/v1/webhooks/{id}", wsAdmin, h.updateWebhook)
	h.handle("DELETE /api/v1/webhooks/{id}", wsAdmin, h.deleteWebhook)
	h.handle("POST /api/v1/webhooks/{id}/rotate-secret", wsAdmin, h.rotateWebhookSecret)
	h.handle("GET /api/v1/webhooks/{id}/deliveries", viewer, h.listWebhookDeliveries)
	h.handle("POST /api/v1/webhooks/{id}/deliveries/{delivery}/replay", wsAdmin, h.replayWebhookDelivery)
}

func webhookView(e webhooks.Endpoint) Webhook {
	return Webhook{
		ID: e.ID, URL: e.URL, Events: fromEvents(e.Events), Description: e.Description,
		Disabled: e.Disabled, DisabledReason: e.DisabledReason,
		DisabledAt: optTime(e.DisabledAt), FailingSince: optTime(e.FailingSince),
		CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt,
	}
}

func deliveryView(d webhooks.Delivery) WebhookDelivery {
	out := WebhookDelivery{
		ID: d.ID, Event: string(d.Event), State: string(d.State), Attempts: d.Attempts,
		LastStatus: d.LastStatus, LastError: d.LastError, CreatedAt: d.CreatedAt,
		LastAttempt: optTime(d.LastAttempt), Payload: json.RawMessage(d.Payload),
	}
	if d.State == webhooks.Pending {
		out.NextAttempt = optTime(d.NextAttempt)
	}
	if !json.Valid(out.Payload) {
		// The deliverer writes JSON; anything else is shown as a string
		// rather than breaking the log's JSON.
		out.Payload, _ = json.Marshal(string(d.Payload))
	}
	return out
}

// optTime is &t, or nil for the zero time.
func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// newWebhookSecret draws a signing secret: "whsec_" and the base64 of 24
// random bytes (the Standard Webhooks form).
func newWebhookSecret() string {
	var b [24]byte
	rand.Read(b[:]) // never fails (crypto/rand since Go 1.24)
	return "whsec_" + base64.StdEncoding.EncodeToString(b[:])
}

// webhookStore answers 503 when the API has no webhook store.
func (h *Handler) webhookStore(w http.ResponseWriter) bool {
	return have(w, h.deps.Webhooks != nil, "webhook store")
}

// webhookFailed answers a store error: 404 for ErrNotFound (another
// workspace's endpoints alike), 403 for ErrTooMany, 503 otherwise.
func (h *Handler) webhookFailed(w http.ResponseWriter, r *http.Request, what string, err error) {
	switch {
	case errors.Is(err, webhooks.ErrNotFound):
		problem.Write(w, http.StatusNotFound, "no webhook "+r.PathValue("id")+" in this workspace")
	case errors.Is(err, webhooks.ErrTooMany):
		problem.Write(w, http.StatusForbidden, fmt.Sprintf("the workspace holds as many webhook endpoints as it may (%d); delete one first", webhooks.MaxEndpointsPerWorkspace))
	default:
		h.storeFailed(w, what, err)
	}
}

func (h *Handler) createWebhook(w http.ResponseWriter, r *http.Request) {
	if !h.webhookStore(w) {
		return
	}
	var req CreateWebhookRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	if !fieldChecks(w, []fieldCheck{
		{"url", checkWebhookURL(req.URL, h.cfg.OutboundAllowPrivate)},
		{"events", checkWebhookEvents(req.Events)},
		{"description", checkWebhookDescription(req.Description)},
	}) {
		return
	}
	e, err := h.deps.Webhooks.CreateEndpoint(r.Context(), webhooks.Endpoint{
		Workspace: callerOf(r).homeWorkspace(), URL: req.URL, Events: toEvents(req.Events),
		Description: req.Description, Secret: newWebhookSecret(),
	})
	if err != nil {
		h.webhookFailed(w, r, "create the webhook", err)
		return
	}
	h.log.Info("webhook created", "id", e.ID, "workspace", e.Workspace)
	out := webhookView(e)
	out.Secret = e.Secret
	w.Header().Set("Location", "/api/v1/webhooks/"+e.ID)
	writeJSON(w, http.StatusCreated, out)
}

func (h *Handler) listWebhooks(w http.ResponseWriter, r *http.Request) {
	if _, ok := apiquery.Params(w, r, nil); !ok {
		return
	}
	if !h.webhookStore(w) {
		return
	}
	es, err := h.deps.Webhooks.Endpoints(r.Context(), callerOf(r).homeWorkspace())
	if err != nil {
		h.webhookFailed(w, r, "list the webhooks", err)
		return
	}
	out := WebhookList{Webhooks: make([]Webhook, 0, len(es))}
	for _, e := range es {
		out.Webhooks = append(out.Webhooks, webhookView(e))
	}
	writeJSON(w, http.StatusOK, out)
}

// webhookCall starts a route on one endpoint: the query parameters
// allowed (answering 400 for another), a store (503), a well-formed {id}
// (404).
func (h *Handler) webhookCall(w http.ResponseWriter, r *http.Request, params []string) (url.Values, string, bool) {
	vals, ok := apiquery.Params(w, r, params)
	if !ok || !h.webhookStore(w) {
		return nil, "", false
	}
	id, ok := pathWebhookID(w, r)
	return vals, id, ok
}

// pathWebhookID reads the {id} path value, answering 404 for one that is
// no endpoint ID at all (without a store lookup).
func pathWebhookID(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("id")
	if !wellFormedID(id, "wh_") {
		problem.Write(w, http.StatusNotFound, "no webhook "+id+" in this workspace")
		return "", false
	}
	return id, true
}

// wellFormedID tells whether id is prefix and 1 to 60 base62 characters
// (endpoint and delivery IDs).
func wellFormedID(id, prefix string) bool {
	rest, ok := strings.CutPrefix(id, prefix)
	if !ok || rest == "" || len(rest) > 60 {
		return false
	}
	for i := range len(rest) {
		if strings.IndexByte(base62.Alphabet, rest[i]) < 0 {
			return false
		}
	}
	return true
}

func (h *Handler) getWebhook(w http.ResponseWriter, r *http.Request) {
	_, id, ok := h.webhookCall(w, r, nil)
	if !ok {
		return
	}
	e, err := h.deps.Webhooks.Endpoint(r.Context(), callerOf(r).homeWorkspace(), id)
	if err != nil {
		h.webhookFailed(w, r, "read the webhook", err)
		return
	}
	writeJSON(w, http.StatusOK, webhookView(e))
}

func (h *Handler) updateWebhook(w http.ResponseWriter, r *http.Request) {
	_, id, ok := h.webhookCall(w, r, nil)
	if !ok {
		return
	}
	var req UpdateWebhookRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	p := webhooks.EndpointPatch{URL: req.URL, Description: req.Description, Disabled: req.Disabled}
	var checks []fieldCheck
	if req.URL != nil {
		checks = append(checks, fieldCheck{"url", checkWebhookURL(*req.URL, h.cfg.OutboundAllowPrivate)})
	}
	if req.Events != nil {
		checks = append(checks, fieldCheck{"events", checkWebhookEvents(*req.Events)})
		p.Events = toEvents(*req.Events)
	}
	if req.Description != nil {
		checks = append(checks, fieldCheck{"description", checkWebhookDescription(*req.Description)})
	}
	if !fieldChecks(w, checks) {
		return
	}
	e, err := h.deps.Webhooks.UpdateEndpoint(r.Context(), callerOf(r).homeWorkspace(), id, p)
	if err != nil {
		h.webhookFailed(w, r, "update the webhook", err)
		return
	}
	writeJSON(w, http.StatusOK, webhookView(e))
}

func (h *Handler) deleteWebhook(w http.ResponseWriter, r *http.Request) {
	_, id, ok := h.webhookCall(w, r, nil)
	if !ok {
		return
	}
	if err := h.deps.Webhooks.DeleteEndpoint(r.Context(), callerOf(r).homeWorkspace(), id); err != nil {
		h.webhookFailed(w, r, "delete the webhook", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) rotateWebhookSecret(w http.ResponseWriter, r *http.Request) {
	_, id, ok := h.webhookCall(w, r, nil)
	if !ok {
		return
	}
	secret := newWebhookSecret()
	e, err := h.deps.Webhooks.UpdateEndpoint(r.Context(), callerOf(r).homeWorkspace(), id, webhooks.EndpointPatch{Secret: &secret})
	if err != nil {
		h.webhookFailed(w, r, "rotate the webhook's secret", err)
		return
	}
	out := webhookView(e)
	out.Secret = e.Secret
	writeJSON(w, http.StatusOK, out)
}

// deliveryParams are the query parameters of the delivery log.
var deliveryParams = []string{"state", "cursor", "limit"}

func (h *Handler) listWebhookDeliveries(w http.ResponseWriter, r *http.Request) {
	vals, ok := apiquery.Params(w, r, deliveryParams)
	if !ok {
		return
	}
	q := webhooks.DeliveryQuery{State: webhooks.DeliveryState(vals.Get("state"))}
	switch q.State {
	case "", webhooks.Pending, webhooks.Delivered, webhooks.Failed:
	default:
		problem.WriteField(w, http.StatusBadRequest, "state", "state must be pending, delivered or failed")
		return
	}
	limit, bad := pageSize(vals)
	if bad != nil {
		problem.WriteField(w, http.StatusBadRequest, bad.param, bad.msg)
		return
	}
	q.Limit = limit
	if vals.Has("cursor") {
		q.Before = vals.Get("cursor")
		if !wellFormedID(q.Before, "msg_") {
			problem.WriteField(w, http.StatusBadRequest, "cursor", "cursor is not one this API gave out; use next_cursor from the previous page, or leave cursor out for the first page")
			return
		}
	}
	if _, q.Endpoint, ok = h.webhookCall(w, r, deliveryParams); !ok {
		return
	}
	ds, err := h.deps.Webhooks.Deliveries(r.Context(), callerOf(r).homeWorkspace(), q)
	if err != nil {
		h.webhookFailed(w, r, "read the delivery log", err)
		return
	}
	page := WebhookDeliveryPage{Deliveries: make([]WebhookDelivery, 0, len(ds))}
	for _, d := range ds {
		page.Deliveries = append(page.Deliveries, deliveryView(d))
	}
	if len(ds) == q.Limit {
		page.NextCursor = ds[len(ds)-1].ID
	}
	writeJSON(w, http.StatusOK, page)
}

func (h *Handler) replayWebhookDelivery(w http.ResponseWriter, r *http.Request) {
	_, id, ok := h.webhookCall(w, r, nil)
	if !ok {
		return
	}
	delivery := r.PathValue("delivery")
	setAuditTarget(r, id+"/"+delivery)
	if !wellFormedID(delivery, "msg_") {
		problem.Write(w, http.StatusNotFound, "no delivery "+delivery+" of webhook "+id)
		return
	}
	d, err := h.deps.Webhooks.Replay(r.Context(), callerOf(r).homeWorkspace(), id, delivery)
	if errors.Is(err, webhooks.ErrNotFound) {
		problem.Write(w, http.StatusNotFound, "no delivery "+delivery+" of webhook "+id+" in this workspace")
		return
	}
	if err != nil {
		h.webhookFailed(w, r, "replay the delivery", err)
		return
	}
	h.log.Info("webhook delivery replayed", "webhook", id, "delivery", delivery)
	writeJSON(w, http.StatusAccepted, deliveryView(d))
}
