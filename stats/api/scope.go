package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/shortify/shortify/internal/apiauth"
	"github.com/shortify/shortify/internal/problem"
)

// Directory is what the API reads of the control plane's registries to
// scope a request: the workspaces (for the Shortify-Workspace header and
// the dashboard's names) and the links (which link a domain and code name,
// and whose it is). The control plane's app implements it on its Raft
// node and its link store.
type Directory interface {
	// Workspace finds a workspace by its ID.
	Workspace(id int64) (Workspace, bool)
	// WorkspaceByName finds a workspace by its name.
	WorkspaceByName(name string) (Workspace, bool)
	// Workspaces lists every workspace by ascending ID, for an instance
	// admin to pick from.
	Workspaces() []Workspace
	// Link finds the link that (domain, code) names now, as the edge
	// does: live, expired or taken down; found is false for a code that
	// no link has (never had, or deleted).
	Link(ctx context.Context, domain, code string) (ref LinkRef, found bool, err error)
}

// Workspace is a workspace as the stats API shows it.
type Workspace struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// LinkRef is the link that a domain and code name: its ID and its
// workspace.
type LinkRef struct {
	ID        int64
	Workspace int64
}

// scope is who makes a request and which statistics it reads, as the
// access check found it.
type scope struct {
	key apiauth.KeyRecord
	// ws is the workspace the request acts in; 0 for an instance admin
	// over every workspace (the instance-wide roll-up).
	ws int64
	// dir is the control plane's registry (nil: none available).
	dir Directory
}

type scopeCtxKey struct{}

// scopeOf returns the scope the access check put in r's context.
func scopeOf(r *http.Request) scope {
	s, _ := r.Context().Value(scopeCtxKey{}).(scope)
	return s
}

// sees tells whether the request may see the statistics of workspace ws:
// an instance admin over every workspace sees all, anyone else only the
// workspace it acts in. What it may not see is answered 404, exactly as
// what does not exist.
func (s scope) sees(ws int64) bool { return apiauth.Sees(s.key, s.ws, ws) }

// store is the view of the statistics that the request reads: the
// acting workspace's, or the instance-wide store for an instance admin
// over every workspace.
func (h *Handler) store(r *http.Request) Store {
	if s := scopeOf(r); s.ws != 0 {
		return h.deps.Store.Workspace(s.ws)
	}
	return h.deps.Store
}

// actAs finds the workspace that rec acts in for r (apiauth.ActingWorkspace)
// and returns r carrying the scope, or answers 404 (a workspace the key
// may not act in, or none) or 503 (no registry yet) itself.
func (h *Handler) actAs(w http.ResponseWriter, r *http.Request, rec apiauth.KeyRecord) (*http.Request, bool) {
	var dir Directory
	if h.deps.Directory != nil {
		if dir = h.deps.Directory(r.Context()); dir == nil {
			w.Header().Set("Retry-After", "1")
			problem.Write(w, http.StatusServiceUnavailable, "the workspace registry is not available (the control plane is starting or stopping); retry shortly")
			return nil, false
		}
	}
	ws, err := apiauth.ActingWorkspace(r, rec, resolver(dir))
	if err != nil {
		if errors.Is(err, apiauth.ErrNoWorkspace) {
			problem.Write(w, http.StatusNotFound, err.Error())
			return nil, false
		}
		h.failed(w, r, err)
		return nil, false
	}
	ctx := context.WithValue(r.Context(), scopeCtxKey{}, scope{key: rec, ws: ws, dir: dir})
	return r.WithContext(ctx), true
}

// resolver is the apiauth.WorkspaceResolver of dir: a decimal ID or a
// name. Without a registry only the default workspace is known.
func resolver(dir Directory) apiauth.WorkspaceResolver {
	if dir == nil {
		return apiauth.Resolver(nil, nil)
	}
	return apiauth.Resolver(
		func(id int64) bool { _, ok := dir.Workspace(id); return ok },
		func(name string) (int64, bool) { w, ok := dir.WorkspaceByName(name); return w.ID, ok })
}

// errNoLink is a per-link route's link that does not exist or that the
// caller may not see: both are answered 404 with the same detail.
var errNoLink = errors.New("no link")

// noLink answers a per-link route for a link that errNoLink stands for.
func noLink(w http.ResponseWriter, code string, q Query) {
	where := "the instance's own host"
	if q.Domain != "" {
		where = q.Domain
	}
	problem.Write(w, http.StatusNotFound, fmt.Sprintf("no link %q on %s has statistics you may read", code, where))
}

// linkFor finds the link whose statistics a per-link route reads, or
// errNoLink (see docs/stats.md, "Which link a per-link route reads"):
//
//   - link_id given: that link, when its statistics are in the caller's
//     view, or when it is the link the domain and code name now and the
//     caller sees its workspace;
//   - else the link that the control plane's link store has for (domain,
//     code) now, when the caller sees its workspace (another workspace's
//     link counts as none: the answer is the one without it);
//   - else, on the own host only, the newest link with statistics for the
//     code in the caller's view: a deleted link's statistics, which
//     outlive it. The statistics do not record the domain, so a deleted
//     custom-domain link's need link_id.
func (h *Handler) linkFor(r *http.Request, code string, q Query) (int64, error) {
	ctx, sc, store := r.Context(), scopeOf(r), h.store(r)
	var ref LinkRef
	found := false
	if sc.dir != nil {
		var err error
		if ref, found, err = sc.dir.Link(ctx, q.Domain, code); err != nil {
			return 0, fmt.Errorf("stats api: find link %q: %w", code, err)
		}
		// Another workspace's link is treated as no link at all: the
		// answer is then exactly the one it would be without it.
		found = found && sc.sees(ref.Workspace)
	}
	if q.LinkID != 0 {
		if found && ref.ID == q.LinkID {
			return ref.ID, nil
		}
		ok, err := store.HasLink(ctx, q.Granularity, code, q.LinkID)
		if err != nil {
			return 0, err
		}
		if !ok {
			return 0, errNoLink
		}
		return q.LinkID, nil
	}
	if found {
		return ref.ID, nil
	}
	if q.Domain != "" && sc.dir != nil {
		return 0, errNoLink
	}
	id, err := store.LatestLinkID(ctx, q.Granularity, code)
	if err != nil {
		return 0, err
	}
	if id == 0 {
		return 0, errNoLink
	}
	return id, nil
}
