// Package webhooks is Shortify's outgoing webhooks: a workspace's
// endpoints, the events they subscribe to, and the deliveries made to them.
//
// The part has three pieces:
//
//   - webhooks/store keeps endpoints and deliveries in the link database
//     (PostgreSQL or SQLite, its own migrations table), behind Store;
//   - webhooks/deliver is the deliverer: a Kafka consumer group on the
//     link-events and clicks topics that turns records into deliveries
//     (Enqueue, then commits the offsets, so nothing is lost across
//     restarts), and a sender that posts due deliveries with the Standard
//     Webhooks headers and retries with exponential back-off for up to
//     RetryFor;
//   - controlplane/api's webhooks routes manage endpoints and read the
//     delivery log.
//
// Delivery is at least once: a delivery's ID (the webhook-id header) is
// derived from what it carries, so a record consumed again after a crash
// enqueues the same delivery (Enqueue ignores IDs it has) and a receiver
// can deduplicate by webhook-id.
package webhooks

import (
	"context"
	"errors"
	"time"
)

// Event is a kind of event an endpoint subscribes to.
type Event string

// The events.
const (
	LinkCreated Event = "link.created"
	LinkUpdated Event = "link.updated"
	LinkDeleted Event = "link.deleted"
	LinkClicked Event = "link.clicked"
)

// Events lists every Event, in documentation order.
var Events = []Event{LinkCreated, LinkUpdated, LinkDeleted, LinkClicked}

// Limits.
const (
	// RetryFor is how long a delivery is retried; an endpoint whose
	// deliveries have all failed for that long is disabled.
	RetryFor = 24 * time.Hour
	// MaxClicksPerDelivery and ClickBatchWindow bound a link.clicked
	// delivery: at most this many clicks, gathered for at most this long.
	MaxClicksPerDelivery = 100
	ClickBatchWindow     = time.Second
	// MaxEndpointsPerWorkspace bounds a workspace's endpoints.
	MaxEndpointsPerWorkspace = 20
)

// Sentinel errors of Store.
var (
	// ErrNotFound means no endpoint or delivery of the workspace has the ID.
	ErrNotFound = errors.New("webhooks: not found")
	// ErrTooMany means the workspace has MaxEndpointsPerWorkspace endpoints.
	ErrTooMany = errors.New("webhooks: too many endpoints in the workspace")
)

// Endpoint is a URL that receives a workspace's events.
type Endpoint struct {
	// ID is the endpoint's identifier ("wh_" and 22 base62 characters).
	ID        string
	Workspace int64
	URL       string
	Events    []Event
	// Secret signs the deliveries ("whsec_" and the base64 of 24 random
	// bytes, the Standard Webhooks form). Shown once, at creation.
	Secret      string
	Description string
	// Disabled endpoints receive nothing; DisabledReason says why
	// ("failing": every delivery failed for RetryFor; "user": PATCH).
	Disabled       bool
	DisabledReason string
	DisabledAt     time.Time
	// FailingSince is the first failed attempt since the last success
	// (zero: not failing).
	FailingSince time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Subscribes reports whether e receives events of kind ev.
func (e *Endpoint) Subscribes(ev Event) bool {
	for _, x := range e.Events {
		if x == ev {
			return true
		}
	}
	return false
}

// DeliveryState is where a delivery is in its life.
type DeliveryState string

// The delivery states.
const (
	// Pending deliveries are sent when NextAttempt comes.
	Pending DeliveryState = "pending"
	// Delivered deliveries got a 2xx answer.
	Delivered DeliveryState = "delivered"
	// Failed deliveries got no 2xx answer for RetryFor (or their
	// endpoint was deleted or disabled); a replay makes them pending.
	Failed DeliveryState = "failed"
)

// Delivery is one message to one endpoint and its attempts so far.
type Delivery struct {
	// ID is the message's webhook-id ("msg_" and base62), the same on
	// every attempt and replay.
	ID       string
	Endpoint string
	// Workspace is the endpoint's workspace.
	Workspace int64
	Event     Event
	// Payload is the JSON body sent.
	Payload []byte
	// CreatedAt is when the event happened (the webhook-timestamp of
	// the first attempt is when it is sent).
	CreatedAt   time.Time
	State       DeliveryState
	Attempts    int
	NextAttempt time.Time
	// LastStatus is the HTTP status of the last attempt (0: none, or no
	// answer); LastError what went wrong ("" on success).
	LastStatus  int
	LastError   string
	LastAttempt time.Time
}

// Attempt is the outcome of sending a delivery once.
type Attempt struct {
	At     time.Time
	Status int
	// Err is "" on a 2xx answer.
	Err string
	// Next is when to try again; zero when the delivery is done
	// (delivered, or failed for good).
	Next time.Time
}

// EndpointPatch changes an endpoint; nil fields stay.
type EndpointPatch struct {
	URL         *string
	Events      []Event
	Description *string
	// Secret replaces the signing secret (rotate-secret).
	Secret *string
	// Disabled true disables (reason "user"); false enables and clears
	// FailingSince.
	Disabled *bool
}

// DeliveryQuery pages a workspace endpoint's delivery log, newest first.
type DeliveryQuery struct {
	Endpoint string
	// State filters when not "".
	State DeliveryState
	// Before is the cursor: deliveries older than this ID's.
	Before string
	Limit  int
}

// Store keeps endpoints and deliveries. Every method that takes a
// workspace reads or changes only that workspace's rows and answers
// ErrNotFound for another's IDs.
type Store interface {
	CreateEndpoint(ctx context.Context, e Endpoint) (Endpoint, error)
	Endpoint(ctx context.Context, workspace int64, id string) (Endpoint, error)
	Endpoints(ctx context.Context, workspace int64) ([]Endpoint, error)
	UpdateEndpoint(ctx context.Context, workspace int64, id string, p EndpointPatch) (Endpoint, error)
	// DeleteEndpoint removes the endpoint and its deliveries.
	DeleteEndpoint(ctx context.Context, workspace int64, id string) error
	// Subscribers returns the enabled endpoints of the workspace that
	// subscribe to ev (the deliverer's lookup).
	Subscribers(ctx context.Context, workspace int64, ev Event) ([]Endpoint, error)

	// Enqueue adds pending deliveries, due now; IDs already present are
	// left as they are (a record consumed twice).
	Enqueue(ctx context.Context, ds []Delivery) error
	// Claim returns up to limit pending deliveries due at now, of enabled
	// endpoints, and hides them from other Claims for lease (so two
	// deliverers do not send one delivery at once).
	Claim(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]Delivery, error)
	// Record stores an attempt's outcome: delivered on success, pending
	// again at a.Next, or failed when a.Next is zero. It keeps the
	// endpoint's FailingSince, and disables the endpoint ("failing") when
	// it has failed for RetryFor.
	Record(ctx context.Context, d Delivery, a Attempt) error
	// Deliveries pages the delivery log of one endpoint of the workspace.
	Deliveries(ctx context.Context, workspace int64, q DeliveryQuery) ([]Delivery, error)
	// Replay makes a delivery pending again, due now, with its ID.
	Replay(ctx context.Context, workspace int64, endpoint, delivery string) (Delivery, error)
	// Prune deletes delivered and failed deliveries older than before.
	Prune(ctx context.Context, before time.Time) (int64, error)
}
