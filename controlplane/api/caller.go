package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/shortify/shortify/controlplane/fsm"
	"github.com/shortify/shortify/internal/apiauth"
	"github.com/shortify/shortify/internal/problem"
	"github.com/shortify/shortify/internal/workspace"
)

// WorkspaceDirectory reads the replicated workspace registry (the cluster
// node implements it from its copy of the FSM).
type WorkspaceDirectory interface {
	// Workspace returns the workspace with the ID.
	Workspace(id int64) (fsm.Workspace, bool)
	// WorkspaceByName returns the workspace with the name.
	WorkspaceByName(name string) (fsm.Workspace, bool)
}

// caller is who makes a request and where it acts, as the access check
// found it (callerOf).
type caller struct {
	// key is the caller's key; zero for an anonymous create and on public
	// routes.
	key KeyRecord
	// anonymous: no key (an anonymous create).
	anonymous bool
	// workspace is the workspace the caller acts in (apiauth.ActingWorkspace);
	// 0 for an instance admin acting over every workspace.
	workspace int64
}

type callerCtxKey struct{}

// callerOf returns the caller the access check put in r's context. On
// public routes it is the zero caller.
func callerOf(r *http.Request) caller {
	c, _ := r.Context().Value(callerCtxKey{}).(caller)
	return c
}

// withCaller returns r carrying c.
func withCaller(r *http.Request, c caller) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), callerCtxKey{}, c))
}

// homeWorkspace is where the caller's new things go: its workspace, or the
// default workspace for anonymous callers and for an instance admin that
// names none.
func (c caller) homeWorkspace() int64 { return workspace.Of(c.workspace) }

// sees tells whether the caller may see what belongs to workspace ws: an
// instance admin over every workspace sees everything, anyone else its
// own workspace only. What it may not see is answered 404, as what does
// not exist.
func (c caller) sees(ws int64) bool { return apiauth.Sees(c.key, c.workspace, ws) }

// resolveWorkspace is the apiauth.WorkspaceResolver of the handler's
// directory: a decimal ID or a name.
func (h *Handler) resolveWorkspace(ref string) (int64, bool) {
	dir := h.deps.Workspaces
	if dir == nil {
		return apiauth.Resolver(nil, nil)(ref)
	}
	return apiauth.Resolver(
		func(id int64) bool { _, ok := dir.Workspace(id); return ok },
		func(name string) (int64, bool) { w, ok := dir.WorkspaceByName(name); return w.ID, ok })(ref)
}

// actAs finds the workspace rec acts in for r and returns r carrying the
// caller, or answers 404 itself.
func (h *Handler) actAs(w http.ResponseWriter, r *http.Request, rec KeyRecord) (*http.Request, bool) {
	ws, err := apiauth.ActingWorkspace(r, rec, h.resolveWorkspace)
	if err != nil {
		if errors.Is(err, apiauth.ErrNoWorkspace) {
			problem.Write(w, http.StatusNotFound, err.Error())
			return nil, false
		}
		h.unavailable(w, "find the workspace", err)
		return nil, false
	}
	return withCaller(r, caller{key: rec, workspace: ws}), true
}
