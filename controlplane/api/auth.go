package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/shortify/shortify/controlplane/cluster"
	"github.com/shortify/shortify/internal/apiauth"
	"github.com/shortify/shortify/internal/apikey"
	"github.com/shortify/shortify/internal/problem"
	"github.com/shortify/shortify/internal/workspace"
)

// KeyHeader carries the API key of a call (apiauth.KeyHeader, named here
// too for the clients of this API).
const KeyHeader = apiauth.KeyHeader

// KeyRecord is a stored API key: never the key itself, only its hash. It is
// apiauth's, which both APIs authenticate with; the key ring and its Raft
// commands store it under this name.
type KeyRecord = apiauth.KeyRecord

// KeyLookup finds API key records by ID. Keys has it; the stats API, served
// in the same process as the control plane, authenticates with it too
// (apiauth.Check), so that both APIs take the same keys and roles.
type KeyLookup = apiauth.KeyLookup

// ErrStoreUnavailable marks a Keys error that came from the link database
// (a revocation is recorded there before it goes through Raft): the API
// answers 503 with Retry-After, as for a link write.
var ErrStoreUnavailable = errors.New("the link database is unavailable")

// Keys is the replicated key ring (the Raft FSM's keys).
type Keys interface {
	KeyLookup
	// ListKeys returns every key, revoked ones included, oldest first.
	ListKeys() []KeyRecord
	// AddKey stores a new key's record through Raft.
	AddKey(ctx context.Context, rec KeyRecord) error
	// RevokeKey revokes a key through Raft; false when there is none.
	RevokeKey(ctx context.Context, id string, at time.Time) (bool, error)
}

// Limiter limits anonymous creates per client (see anonymous.go).
type Limiter interface {
	// Allow counts a create by the client with the key and reports
	// whether it may go on, and if not, after how long it may try again.
	Allow(ctx context.Context, key string) (ok bool, retryAfter time.Duration, err error)
	// Refund gives back a create Allow counted, for a create that was
	// refused after all.
	Refund(ctx context.Context, key string) error
}

// access is who may call a route.
type access int

const (
	// public routes need nothing (health, the OpenAPI document).
	public access = iota
	// viewer, creator and admin routes need a key of that role or above.
	viewer
	creator
	admin
	// anonCreate routes need a creator key, or none when anonymous
	// creation is on (then the client is rate-limited).
	anonCreate
	// member routes need a verified client certificate of the cluster CA:
	// the internal handler's only (NewInternal), never the public one's.
	member
	// wsAdmin routes manage a workspace's own keys and domains: they need
	// an admin key of the workspace the request acts in, or an instance
	// admin's. admin keeps meaning an instance admin.
	wsAdmin
)

func (a access) role() apikey.Role {
	switch a {
	case viewer:
		return apikey.Viewer
	case creator, anonCreate:
		return apikey.Creator
	}
	return apikey.Admin // admin, wsAdmin
}

// route is one registered route, kept for the OpenAPI cross-check.
type route struct {
	pattern string
	access  access
}

// RouteInfo describes a registered route.
type RouteInfo struct {
	// Pattern is the method and path, as http.ServeMux takes it.
	Pattern string
	// Access is who may call it: public, viewer, creator, admin (an
	// instance admin), workspace-admin (an admin of the acting workspace
	// or an instance admin), creator-or-anonymous or member.
	Access string
}

// Routes lists every route the handler serves, in registration order.
func (h *Handler) Routes() []RouteInfo {
	out := make([]RouteInfo, 0, len(h.routeList))
	for _, r := range h.routeList {
		out = append(out, RouteInfo{Pattern: r.pattern, Access: r.access.String()})
	}
	return out
}

func (a access) String() string {
	switch a {
	case public:
		return "public"
	case viewer:
		return "viewer"
	case creator:
		return "creator"
	case admin:
		return "admin"
	case anonCreate:
		return "creator-or-anonymous"
	case member:
		return "member"
	case wsAdmin:
		return "workspace-admin"
	}
	return "unknown"
}

// handle registers fn at pattern behind the access check.
func (h *Handler) handle(pattern string, a access, fn http.HandlerFunc) {
	h.routeList = append(h.routeList, route{pattern, a})
	h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if !h.browserGuard(w, r) {
			return
		}
		if r, ok := h.allowed(w, r, a); ok {
			if key, err := apiauth.RequestKey(r); err == nil && key != "" {
				// An admin write that a follower forwards to the leader
				// goes with the caller's key, which the leader checks
				// itself (cluster.WithCallerKey).
				r = r.WithContext(cluster.WithCallerKey(r.Context(), key))
			}
			fn(w, r)
		}
	})
}

// allowed checks the call's credentials for a, answering 401, 403, 404
// or 429 itself when they fall short. It returns r carrying the caller
// (callerOf).
func (h *Handler) allowed(w http.ResponseWriter, r *http.Request, a access) (*http.Request, bool) {
	switch a {
	case public:
		return r, true
	case member:
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
			problem.Write(w, http.StatusForbidden, r.URL.Path+" is for cluster members, which present a certificate of the cluster CA")
			return nil, false
		}
		return r, true
	}
	if a == anonCreate && h.cfg.AnonymousCreate {
		if key, err := apiauth.RequestKey(r); err == nil && key == "" {
			// The handler spends the client's budget once the request is
			// valid (see anonymous.go): a refusal costs none.
			return withCaller(r, caller{anonymous: true, workspace: workspace.DefaultID}), true
		}
	}
	// Without a key ring every key is unknown: a 401, as for a wrong key.
	var keys KeyLookup = apiauth.NoKeys{}
	if h.deps.Keys != nil {
		keys = h.deps.Keys
	}
	if a == wsAdmin {
		return h.allowedWorkspaceAdmin(w, r, keys)
	}
	rec, ok := apiauth.Check(w, r, keys, a.role(), "this route")
	if !ok {
		return nil, false
	}
	return h.actAs(w, r, rec)
}

// allowedWorkspaceAdmin is allowed for wsAdmin: apiauth.Check with role
// admin takes instance admins only, so the role is checked here, and the
// workspace by actAs (a workspace's admin acts in its own only).
func (h *Handler) allowedWorkspaceAdmin(w http.ResponseWriter, r *http.Request, keys KeyLookup) (*http.Request, bool) {
	if key, err := apiauth.RequestKey(r); err == nil && key == "" {
		apiauth.WriteUnauthorized(w, "this route needs an admin key of the workspace, or an instance admin's, "+apiauth.KeyHint)
		return nil, false
	}
	rec, ok := apiauth.Check(w, r, keys, apikey.Viewer, "this route")
	if !ok {
		return nil, false
	}
	if !rec.Role.Allows(apikey.Admin) {
		problem.Write(w, http.StatusForbidden, fmt.Sprintf("this route needs role admin (of the workspace, or an instance admin); key %s has role %s", rec.ID, rec.Role))
		return nil, false
	}
	return h.actAs(w, r, rec)
}

// KeyLookup returns the key ring the handler authenticates with, or nil
// when it has none, for other handlers of the same process.
func (h *Handler) KeyLookup() KeyLookup {
	if h.deps.Keys == nil {
		return nil
	}
	return h.deps.Keys
}
