package webhooks

import "time"

// Message is the JSON body of every delivery (the Standard Webhooks
// shape): the event's type, when it happened, and its data.
//
//	{"type":"link.created","timestamp":"2026-12-05T06:00:00.123Z","data":{...}}
//
// Data is a *LinkData for link.created and link.updated, a *DeletedData
// for link.deleted and a *ClicksData for link.clicked.
type Message struct {
	Type      Event     `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      any       `json:"data"`
}

// LinkData is a link as it is when the deliverer reads it from the link
// store (its current state, not the one the event was published with).
type LinkData struct {
	// LinkID is the link's Snowflake ID as a string (JavaScript numbers
	// cannot hold 64 bits).
	LinkID string `json:"link_id"`
	Code   string `json:"code"`
	// Domain is the custom domain; absent on the instance's own host.
	Domain string `json:"domain,omitempty"`
	// ShortURL is absent when the deliverer knows no public URL.
	ShortURL       string     `json:"short_url,omitempty"`
	URL            string     `json:"url"`
	Workspace      int64      `json:"workspace"`
	RedirectStatus int        `json:"redirect_status,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	ExpiresAt      *time.Time `json:"expires_at,omitempty"`
	Disabled       bool       `json:"disabled"`
	Title          string     `json:"title,omitempty"`
	Tags           []string   `json:"tags"`
}

// DeletedData identifies a deleted link and says why it went.
type DeletedData struct {
	LinkID    string `json:"link_id"`
	Code      string `json:"code"`
	Domain    string `json:"domain,omitempty"`
	ShortURL  string `json:"short_url,omitempty"`
	Workspace int64  `json:"workspace"`
	// Reason is "api" (deleted through the REST API) or "expired"
	// (retired by the cleanup after it expired).
	Reason string `json:"reason"`
}

// ClicksData is a batch of at most MaxClicksPerDelivery clicks of one
// workspace, gathered for at most ClickBatchWindow.
type ClicksData struct {
	Clicks []Click `json:"clicks"`
}

// Click is one redirect served. It never carries the client's address
// or visitor hash.
type Click struct {
	// ID identifies the click (its place in the clicks topic): after a
	// deliverer's crash a click may come again in a batch of another
	// webhook-id, and a receiver that must count each click once
	// deduplicates by it.
	ID     string    `json:"id"`
	Code   string    `json:"code"`
	Domain string    `json:"domain,omitempty"`
	LinkID string    `json:"link_id"`
	Time   time.Time `json:"time"`
	// Country is ISO 3166-1 alpha-2; absent when unknown.
	Country string `json:"country,omitempty"`
	// Device, Browser and OS are families (internal/useragent), never
	// the raw User-Agent; absent when unknown.
	Device  string `json:"device,omitempty"`
	Browser string `json:"browser,omitempty"`
	OS      string `json:"os,omitempty"`
	Bot     bool   `json:"bot"`
	// ReferrerHost is the host of the Referer header; absent when none.
	ReferrerHost string `json:"referrer_host,omitempty"`
}
