package client

import (
	"bytes"
	"encoding/json"
	"time"
)

// Nullable is a PATCH field that can be left alone (the zero value),
// set to a value (Set) or cleared (Clear, sent as JSON null): three states
// that a pointer cannot tell apart.
type Nullable[T any] struct {
	set, null bool
	v         T
}

// Set returns a Nullable that sets the field to v.
func Set[T any](v T) Nullable[T] { return Nullable[T]{set: true, v: v} }

// Clear returns a Nullable that clears the field (JSON null).
func Clear[T any]() Nullable[T] { return Nullable[T]{set: true, null: true} }

// IsZero reports a field left alone, so that `omitzero` leaves it out.
func (n Nullable[T]) IsZero() bool { return !n.set }

// MarshalJSON writes the value or null.
func (n Nullable[T]) MarshalJSON() ([]byte, error) {
	if !n.set || n.null {
		return []byte("null"), nil
	}
	return json.Marshal(n.v)
}

// UnmarshalJSON reads the value or null.
func (n *Nullable[T]) UnmarshalJSON(b []byte) error {
	n.set = true
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		n.null = true
		return nil
	}
	return json.Unmarshal(b, &n.v)
}

// SmartConditions are the conditions of a smart-link rule: all given
// ones must match (each list: any of its values).
type SmartConditions struct {
	Device   []string          `json:"device,omitempty"`
	OS       []string          `json:"os,omitempty"`
	Browser  []string          `json:"browser,omitempty"`
	Country  []string          `json:"country,omitempty"`
	Language []string          `json:"language,omitempty"`
	Query    map[string]string `json:"query,omitempty"`
	After    *time.Time        `json:"after,omitempty"`
	Before   *time.Time        `json:"before,omitempty"`
}

// SmartRule sends the visitors its conditions match to URL.
type SmartRule struct {
	When SmartConditions `json:"when"`
	URL  string          `json:"url"`
}

// SmartTarget is one weighted destination of an A/B split.
type SmartTarget struct {
	URL    string `json:"url"`
	Weight int    `json:"weight"`
}

// SmartPreview is what link-preview bots (Slack, X…) are shown.
type SmartPreview struct {
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	Image       string `json:"image,omitempty"`
}

// UTM are the utm_* parameters added to the destination.
type UTM struct {
	Source   string `json:"source,omitempty"`
	Medium   string `json:"medium,omitempty"`
	Campaign string `json:"campaign,omitempty"`
	Term     string `json:"term,omitempty"`
	Content  string `json:"content,omitempty"`
}

// Review is a link's flag for moderator review.
type Review struct {
	Reason string    `json:"reason"`
	Source string    `json:"source"`
	At     time.Time `json:"at"`
}

// Takedown says why and when a link was taken down.
type Takedown struct {
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// Link is a short link as the API returns it.
type Link struct {
	Code                 string        `json:"code"`
	Domain               string        `json:"domain,omitempty"`
	ShortURL             string        `json:"short_url"`
	URL                  string        `json:"url"`
	Workspace            int64         `json:"workspace"`
	ID                   string        `json:"id"`
	RedirectStatus       int           `json:"redirect_status,omitempty"`
	CreatedAt            time.Time     `json:"created_at"`
	ExpiresAt            *time.Time    `json:"expires_at,omitempty"`
	Disabled             bool          `json:"disabled"`
	Review               *Review       `json:"review,omitempty"`
	Takedown             *Takedown     `json:"takedown,omitempty"`
	PasswordProtected    bool          `json:"password_protected"`
	MaxClicks            int64         `json:"max_clicks,omitempty"`
	ExpiredURL           string        `json:"expired_url,omitempty"`
	Rules                []SmartRule   `json:"rules,omitempty"`
	Targets              []SmartTarget `json:"targets,omitempty"`
	ForwardQuery         *bool         `json:"forward_query,omitempty"`
	ForwardQueryOverride *bool         `json:"forward_query_override,omitempty"`
	Preview              *SmartPreview `json:"preview,omitempty"`
	CacheMaxAge          *int          `json:"cache_max_age,omitempty"`
	UTM                  *UTM          `json:"utm,omitempty"`
	Title                string        `json:"title,omitempty"`
	Tags                 []string      `json:"tags,omitempty"`
	Notes                string        `json:"notes,omitempty"`
	// ExternalID is the creator's own identifier of the link, unique
	// among the live links of the workspace ("" for none).
	ExternalID string `json:"external_id,omitempty"`
	// Clicks (humans and bots) and ClicksHumans are the link's all-time
	// totals, refreshed every click_totals_interval: not live.
	Clicks       int64 `json:"clicks"`
	ClicksHumans int64 `json:"clicks_humans"`
}

// CreateLinkRequest is the body of a create (single or in a bulk).
type CreateLinkRequest struct {
	URL                  string        `json:"url"`
	Alias                string        `json:"alias,omitempty"`
	ExpiresAt            *time.Time    `json:"expires_at,omitempty"`
	RedirectStatus       int           `json:"redirect_status,omitempty"`
	Domain               string        `json:"domain,omitempty"`
	Password             string        `json:"password,omitempty"`
	MaxClicks            int64         `json:"max_clicks,omitempty"`
	ExpiredURL           string        `json:"expired_url,omitempty"`
	Rules                []SmartRule   `json:"rules,omitempty"`
	Targets              []SmartTarget `json:"targets,omitempty"`
	ForwardQuery         *bool         `json:"forward_query,omitempty"`
	ForwardQueryOverride *bool         `json:"forward_query_override,omitempty"`
	Preview              *SmartPreview `json:"preview,omitempty"`
	CacheMaxAge          *int          `json:"cache_max_age,omitempty"`
	UTM                  *UTM          `json:"utm,omitempty"`
	Title                string        `json:"title,omitempty"`
	Tags                 []string      `json:"tags,omitempty"`
	Notes                string        `json:"notes,omitempty"`
	// ExternalID is the creator's own identifier of the link, unique
	// among the live links of the workspace ("" for none).
	ExternalID string `json:"external_id,omitempty"`
}

// UpdateLinkRequest is a PATCH: fields left zero are kept; Nullable
// fields can also be cleared. Rules and Targets replace the whole list.
type UpdateLinkRequest struct {
	URL                  string                  `json:"url,omitempty"`
	ExpiresAt            Nullable[time.Time]     `json:"expires_at,omitzero"`
	RedirectStatus       int                     `json:"redirect_status,omitempty"`
	Disabled             *bool                   `json:"disabled,omitempty"`
	Password             Nullable[string]        `json:"password,omitzero"`
	MaxClicks            Nullable[int64]         `json:"max_clicks,omitzero"`
	ExpiredURL           Nullable[string]        `json:"expired_url,omitzero"`
	Rules                Nullable[[]SmartRule]   `json:"rules,omitzero"`
	Targets              Nullable[[]SmartTarget] `json:"targets,omitzero"`
	ForwardQuery         Nullable[bool]          `json:"forward_query,omitzero"`
	ForwardQueryOverride Nullable[bool]          `json:"forward_query_override,omitzero"`
	Preview              Nullable[SmartPreview]  `json:"preview,omitzero"`
	CacheMaxAge          Nullable[int]           `json:"cache_max_age,omitzero"`
	UTM                  Nullable[UTM]           `json:"utm,omitzero"`
	// Title, Tags and Notes replace the link's when set; a pointer to ""
	// or to an empty slice clears them.
	Title *string   `json:"title,omitempty"`
	Tags  *[]string `json:"tags,omitempty"`
	Notes *string   `json:"notes,omitempty"`
	// ExternalID sets the link's external ID when set; a pointer to ""
	// clears it.
	ExternalID *string `json:"external_id,omitempty"`
}

// LinkPage is one page of a link listing.
type LinkPage struct {
	Links      []Link `json:"links"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// BulkResult is one link's outcome in a bulk create: Link on success,
// Error otherwise. A 409 for an external ID that a link of the workspace
// has already carries that existing link in Link too (and its code and
// domain in Error); so does a 409 for an alias that a link of the
// caller's workspace holds.
type BulkResult struct {
	Status int      `json:"status"`
	Link   *Link    `json:"link,omitempty"`
	Error  *Problem `json:"error,omitempty"`
}

// BulkResponse is the answer of a bulk create.
type BulkResponse struct {
	Created int          `json:"created"`
	Failed  int          `json:"failed"`
	Results []BulkResult `json:"results"`
}

// KeyInfo is an API key without its secret.
type KeyInfo struct {
	ID            string    `json:"id"`
	Name          string    `json:"name"`
	Role          string    `json:"role"`
	CreatedAt     time.Time `json:"created_at"`
	Revoked       bool      `json:"revoked"`
	Workspace     int64     `json:"workspace,omitempty"`
	InstanceAdmin bool      `json:"instance_admin"`
}

// NewKey is a created key: Key is its secret, shown this once.
type NewKey struct {
	KeyInfo
	Key string `json:"key"`
}

// CreateKeyRequest creates a key; Workspace is an ID or a name ("" = the
// caller's workspace; an instance admin may name any).
type CreateKeyRequest struct {
	Name      string `json:"name"`
	Role      string `json:"role"`
	Workspace string `json:"workspace,omitempty"`
}

// WorkspaceLimits are a workspace's limits (0 = none).
type WorkspaceLimits struct {
	MaxLinks         int64 `json:"max_links"`
	CreatesPerMinute int64 `json:"creates_per_minute"`
	MaxDomains       int64 `json:"max_domains"`
}

// WorkspaceLimitsPatch changes the limits given (nil: kept).
type WorkspaceLimitsPatch struct {
	MaxLinks         *int64 `json:"max_links,omitempty"`
	CreatesPerMinute *int64 `json:"creates_per_minute,omitempty"`
	MaxDomains       *int64 `json:"max_domains,omitempty"`
}

// Workspace is a tenant of the instance.
type Workspace struct {
	ID              int64           `json:"id"`
	Name            string          `json:"name"`
	CreatedAt       *time.Time      `json:"created_at,omitempty"`
	Limits          WorkspaceLimits `json:"limits"`
	EffectiveLimits WorkspaceLimits `json:"effective_limits"`
}

// CreateWorkspaceRequest creates a workspace.
type CreateWorkspaceRequest struct {
	Name   string                `json:"name"`
	Limits *WorkspaceLimitsPatch `json:"limits,omitempty"`
}

// UpdateWorkspaceRequest renames a workspace or changes its limits.
type UpdateWorkspaceRequest struct {
	Name   string                `json:"name,omitempty"`
	Limits *WorkspaceLimitsPatch `json:"limits,omitempty"`
}

// DomainChallenge is the DNS record that proves a domain is the
// workspace's.
type DomainChallenge struct {
	Type  string `json:"type"`
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Domain is a workspace's custom domain.
type Domain struct {
	Domain           string          `json:"domain"`
	Workspace        int64           `json:"workspace"`
	Verified         bool            `json:"verified"`
	Challenge        DomainChallenge `json:"challenge"`
	CreatedAt        time.Time       `json:"created_at"`
	VerifiedAt       *time.Time      `json:"verified_at,omitempty"`
	RootRedirect     string          `json:"root_redirect,omitempty"`
	NotFoundRedirect string          `json:"not_found_redirect,omitempty"`
	RedirectStatus   int             `json:"redirect_status,omitempty"`
}

// CreateDomainRequest adds a custom domain.
type CreateDomainRequest struct {
	Domain string `json:"domain"`
}

// UpdateDomainRequest changes a domain's redirects (and, for an instance
// admin, marks it verified).
type UpdateDomainRequest struct {
	RootRedirect     *string `json:"root_redirect,omitempty"`
	NotFoundRedirect *string `json:"not_found_redirect,omitempty"`
	RedirectStatus   int     `json:"redirect_status,omitempty"`
	Verified         *bool   `json:"verified,omitempty"`
}

// BulkRequest is the body of a bulk create.
type BulkRequest struct {
	Links []CreateLinkRequest `json:"links"`
}

// KeyList is the answer of a key listing.
type KeyList struct {
	Keys []KeyInfo `json:"keys"`
}

// WorkspaceList is the answer of a workspace listing.
type WorkspaceList struct {
	Workspaces []Workspace `json:"workspaces"`
}

// DomainList is the answer of a domain listing.
type DomainList struct {
	Domains []Domain `json:"domains"`
}
