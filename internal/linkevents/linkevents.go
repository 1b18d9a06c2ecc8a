// Package linkevents is the format of the link-events topic: what the
// control plane publishes when a link changes or goes away, for the edges
// (which evict the code from their L1 and L2 caches) and the stats service
// (which removes a deleted link's statistics).
//
// The two event topics are laid out alike (this package and
// internal/clickevents): the package documentation has the same sections
// (Records, Value, Evolution, the reason for the encoding, Producer), the
// codec is in codec.go, the record key is the short code (Event.Key), the
// value carries its format version (Version; a reader refuses others with
// ErrVersion), and the producer's Kafka client comes from
// internal/kafkaprod. Only the encodings differ, for the reasons under
// "Why JSON".
//
// # Records
//
// One Kafka record per event. The record key is the short code
// (Event.Key), so every event of one code lands in one partition and is
// read in the order it was published; the record timestamp is the event
// time (Event.At). The value is the JSON encoding below, at most MaxSize
// bytes. Headers are not used.
//
// # Value, version 1
//
// One JSON object (UTF-8, no trailing data):
//
//	{"v":1,"type":"updated","code":"a9ZkQ2","link_id":"1234567890123456789",
//	 "at":"2026-11-26T19:00:00.123456Z",
//	 "link":{"url":"https://example.com/new","redirect_status":308,
//	         "expires_at":"2030-12-31T23:59:59Z","disabled":false}}
//
//	{"v":1,"type":"deleted","code":"a9ZkQ2","link_id":"1234567890123456789",
//	 "at":"2026-11-26T19:05:00Z","reason":"expired"}
//
// Fields:
//
//   - v: the format version, 1. A consumer rejects versions it does not
//     know (ErrVersion) and skips the record.
//   - type: created, updated, disabled or deleted (see Type).
//   - code: the short code (shortcode.WellFormed); equal to the record key.
//   - domain: the custom domain the link lives on (lower-case punycode);
//     absent for the instance's own host. A link is (domain, code): edges
//     evict that pair.
//   - workspace: the ID of the workspace that owns the link; absent in
//     events from before workspaces, which mean the default workspace (1).
//   - link_id: the link's Snowflake ID as a decimal string (JavaScript
//     numbers cannot hold 64 bits). The control plane sets it on every
//     event (the store's delete returns the row it deleted). Decoders still
//     accept a deleted event without it, as control planes before that
//     change published for deletes through the REST API: such an event is
//     about the link that had the code at event time.
//   - at: the event time, RFC 3339 in UTC with up to nanoseconds.
//   - link: the link's state after the change: url, redirect_status (0 or
//     absent: the edge's default), expires_at (absent: never) and
//     disabled. Present on created, updated and disabled events, absent on
//     deleted ones. Informational only (for people reading the topic and
//     for audits): a consumer must never act on it, since anyone who can
//     produce to the topic can write it (see "What consumers do").
//   - reason: why a link was deleted: api (DELETE through the REST API) or
//     expired (the leader's cleanup retired it after it expired). Present
//     on deleted events only. A deleted link keeps its row in the store
//     (its code is never issued again); the event tells edges and stats
//     that it stopped being a link.
//   - purge_stats: true when the owner asked for the link's statistics to
//     go with it (DELETE ...?purge_stats=true). Deleted events only;
//     absent means false: statistics stay. Events published before the
//     field existed decode with it false, so the stats service no longer
//     drops statistics on their account (it did on every deleted event).
//
// The fields purge_stats, domain and workspace were added to version 1 in
// this way: readers that predate them ignore them (a reader that ignores
// domain evicts the code on the own host too: one needless reload).
//
// # Evolution
//
// Fields may be added to version 1 (decoders ignore fields they do not
// know); a change that version-1 readers would misread (a field removed, a
// meaning changed, a new type) makes version 2, which those readers refuse
// with ErrVersion and skip, so consumers are upgraded before producers.
//
// # Why JSON
//
// Link events are few: one per create, update or delete through the API,
// and the cleanup's deletions, at most a few thousand a second in a burst
// (the creates' peak), against hundreds of thousands of clicks. At that volume readable records (kcat,
// a console consumer, consumers in any language) and additive evolution
// are worth more than bytes. Nor would a binary format save much on the
// wire: a typical update is about 270 bytes of JSON, but about 60 per event
// in a zstd-compressed batch of 100 (the producer compresses batches),
// which is what its random content (code, ID, URL) weighs in any encoding
// (BenchmarkSize measures both). Decoding one takes about 5 µs.
//
// # What consumers do
//
// Edges evict the code from L1 and L2 on every event (a created event
// clears a cached "unknown code" entry) and reload it from Redis or the
// store: an event is a hint to evict, never a source of truth for a
// target, so a forged one cannot retarget a code. Stats removes the statistics of a deleted link only when
// the event says purge_stats (and the stats service does not keep them
// all, as configured): of link_id when present, else of the links of that
// code created before at. An expired or disabled link keeps its
// statistics.
//
// # Producer
//
// The control plane publishes with package producer
// (internal/linkevents/producer): it never makes a request wait, hands
// records to the client with TryProduce and drops (and counts) what a full
// buffer cannot take. Its client is kafkaprod.NewClient's, as the click
// emitter's is: idempotent, keyed by code with Kafka's murmur2
// partitioning, compressed (zstd here: events are few, so the better
// ratio costs nothing that matters). It is a package of its own so that
// the readers of the topic (the edges' invalidation, the stats ingest)
// import the format without the producer.
package linkevents

import (
	"time"

	"github.com/shortify/shortify/internal/linkstore"
)

// Version is the format version that Encode writes and Decode reads.
const Version = 1

// DefaultTopic is the topic's name unless configured.
const DefaultTopic = "shortify.link-events"

// MaxSize bounds an encoded event. Target URLs are at most 32 KiB (the
// control plane's largest max_url_length), so any valid event fits.
const MaxSize = 64 << 10

// maxURLBytes is the longest URL an event may carry.
const maxURLBytes = 32 << 10

// Type says what happened to the link.
type Type string

// The event types.
const (
	// Created: a new link, published for every create (single and bulk)
	// so that an edge drops a cached "unknown code" entry for the code.
	Created Type = "created"
	// Updated: the link changed (target, status, expiry, it was enabled
	// again, or an administrator took it down or lifted the takedown) and
	// is not disabled.
	Updated Type = "updated"
	// Disabled: the link was changed and is now disabled by its owner:
	// it answers 410, and keeps its statistics.
	Disabled Type = "disabled"
	// Deleted: the link stopped being a link (deleted, or retired after
	// it expired; its row and code stay); Reason says why.
	Deleted Type = "deleted"
)

// Reason says why a link was deleted.
type Reason string

// The reasons of a deletion.
const (
	// ReasonAPI: deleted through the REST API.
	ReasonAPI Reason = "api"
	// ReasonExpired: removed by the leader's cleanup after it expired.
	ReasonExpired Reason = "expired"
)

// State is a link's redirect state after a change.
type State struct {
	// URL is the redirect target.
	URL string
	// Status is the redirect status (301, 302, 307 or 308); 0 means the
	// edge's default.
	Status int
	// ExpiresAt is when the link stops redirecting; zero means never.
	ExpiresAt time.Time
	// Disabled links answer 410.
	Disabled bool
}

// Event is one link event.
type Event struct {
	// Type says what happened.
	Type Type
	// Code is the link's short code, and the record key.
	Code string
	// Domain is the link's custom domain, "" for the instance's own host.
	Domain string
	// Workspace is the ID of the link's workspace; 0 in events from
	// before workspaces (the default workspace).
	Workspace int64
	// LinkID is the link's Snowflake ID; 0 means unknown (accepted on
	// deleted events only, from older control planes).
	LinkID int64
	// At is the event time (UTC).
	At time.Time
	// State is the link after the change, for every type but Deleted.
	State State
	// Reason is why a deleted link was deleted; empty for other types.
	Reason Reason
	// PurgeStats tells the stats service to remove the deleted link's
	// statistics (the owner asked for it); false for other types.
	PurgeStats bool
}

// Key returns the record key of e: its code.
func (e Event) Key() []byte { return []byte(e.Code) }

// stateOf returns the state of l.
func stateOf(l linkstore.Link) State {
	return State{URL: l.URL, Status: l.Status, ExpiresAt: l.ExpiresAt, Disabled: l.Disabled}
}

// NewCreated returns the event of l's creation at at.
func NewCreated(l linkstore.Link, at time.Time) Event {
	return Event{Type: Created, Code: l.Code, Domain: l.Domain, Workspace: l.WorkspaceID, LinkID: l.ID, At: at.UTC(), State: stateOf(l)}
}

// NewUpdated returns the event of a change of a link at at, l being the
// link after the change: Disabled when l is disabled, Updated otherwise.
func NewUpdated(l linkstore.Link, at time.Time) Event {
	t := Updated
	if l.Disabled {
		t = Disabled
	}
	return Event{Type: t, Code: l.Code, Domain: l.Domain, Workspace: l.WorkspaceID, LinkID: l.ID, At: at.UTC(), State: stateOf(l)}
}

// NewDeleted returns the event of the deletion of l at at, for reason. Its
// statistics stay: see WithPurge.
func NewDeleted(l linkstore.Link, reason Reason, at time.Time) Event {
	return Event{Type: Deleted, Code: l.Code, Domain: l.Domain, Workspace: l.WorkspaceID, LinkID: l.ID, At: at.UTC(), Reason: reason}
}

// WithPurge returns the deleted event e asking the stats service to
// remove the link's statistics too.
func (e Event) WithPurge() Event {
	e.PurgeStats = true
	return e
}
