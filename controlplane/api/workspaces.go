package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/shortify/shortify/controlplane/fsm"
	"github.com/shortify/shortify/internal/problem"
	"github.com/shortify/shortify/internal/workspace"
)

// WorkspaceAdmin writes the replicated workspace registry (the cluster
// node proposes the FSM's workspace commands, forwarding them to the
// leader as instance admin commands).
type WorkspaceAdmin interface {
	// Workspaces returns every workspace, by ascending ID.
	Workspaces() []fsm.Workspace
	// CreateWorkspace creates a workspace; the FSM gives its ID.
	CreateWorkspace(ctx context.Context, c fsm.CreateWorkspace) (fsm.Workspace, error)
	// UpdateWorkspace renames a workspace and/or sets its limits.
	UpdateWorkspace(ctx context.Context, c fsm.UpdateWorkspace) (fsm.Workspace, error)
	// DeleteWorkspace deletes a workspace without domains and unrevoked
	// keys (fsm.ErrWorkspaceNotEmpty otherwise).
	DeleteWorkspace(ctx context.Context, id int64) (fsm.Workspace, error)
}

// WorkspaceLimits are a workspace's quotas as the API shows them; 0 in
// "limits" is the configured default, in "effective_limits" no limit.
type WorkspaceLimits struct {
	MaxLinks         int64 `json:"max_links"`
	CreatesPerMinute int64 `json:"creates_per_minute"`
	MaxDomains       int64 `json:"max_domains"`
}

// WorkspaceInfo is a workspace as the API shows it.
type WorkspaceInfo struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	// CreatedAt is absent for the default workspace, which predates the
	// registry.
	CreatedAt       *time.Time      `json:"created_at,omitempty"`
	Limits          WorkspaceLimits `json:"limits"`
	EffectiveLimits WorkspaceLimits `json:"effective_limits"`
}

// WorkspaceLimitsPatch changes some limits and keeps the others.
type WorkspaceLimitsPatch struct {
	MaxLinks         *int64 `json:"max_links,omitempty"`
	CreatesPerMinute *int64 `json:"creates_per_minute,omitempty"`
	MaxDomains       *int64 `json:"max_domains,omitempty"`
}

// CreateWorkspaceRequest is the body of POST /api/v1/workspaces.
type CreateWorkspaceRequest struct {
	Name   string                `json:"name"`
	Limits *WorkspaceLimitsPatch `json:"limits,omitempty"`
}

// UpdateWorkspaceRequest is the body of PATCH /api/v1/workspaces/{id}.
type UpdateWorkspaceRequest struct {
	Name   *string               `json:"name,omitempty"`
	Limits *WorkspaceLimitsPatch `json:"limits,omitempty"`
}

// workspaceRoutes registers the workspace routes: instance administration.
func (h *Handler) workspaceRoutes() {
	h.handle("POST /api/v1/workspaces", admin, h.createWorkspace)
	h.handle("GET /api/v1/workspaces", admin, h.listWorkspaces)
	h.handle("GET /api/v1/workspaces/{id}", admin, h.getWorkspace)
	h.handle("PATCH /api/v1/workspaces/{id}", admin, h.updateWorkspace)
	h.handle("DELETE /api/v1/workspaces/{id}", admin, h.deleteWorkspace)
}

// effectiveLimitsOf are w's limits with the configured defaults in place
// of its zeros; 0 is no limit.
func (h *Handler) effectiveLimitsOf(w fsm.Workspace) fsm.WorkspaceLimits {
	d := h.cfg.WorkspaceDefaults
	l := w.Limits
	if l.MaxLinks == 0 {
		l.MaxLinks = d.MaxLinks
	}
	if l.CreatesPerMinute == 0 {
		l.CreatesPerMinute = d.CreatesPerMinute
	}
	if l.MaxDomains == 0 {
		l.MaxDomains = d.MaxDomains
	}
	return l
}

func limitsOut(l fsm.WorkspaceLimits) WorkspaceLimits {
	return WorkspaceLimits{MaxLinks: l.MaxLinks, CreatesPerMinute: l.CreatesPerMinute, MaxDomains: l.MaxDomains}
}

func (h *Handler) workspaceInfo(w fsm.Workspace) WorkspaceInfo {
	out := WorkspaceInfo{ID: w.ID, Name: w.Name, Limits: limitsOut(w.Limits), EffectiveLimits: limitsOut(h.effectiveLimitsOf(w))}
	if w.CreatedMs != 0 {
		t := time.UnixMilli(w.CreatedMs).UTC()
		out.CreatedAt = &t
	}
	return out
}

// apply sets the patch's limits on l, answering 400 for a negative one.
func (p *WorkspaceLimitsPatch) apply(w http.ResponseWriter, l *fsm.WorkspaceLimits) bool {
	if p == nil {
		return true
	}
	for _, f := range []struct {
		name string
		v    *int64
		dst  *int64
	}{{"max_links", p.MaxLinks, &l.MaxLinks}, {"creates_per_minute", p.CreatesPerMinute, &l.CreatesPerMinute}, {"max_domains", p.MaxDomains, &l.MaxDomains}} {
		if f.v == nil {
			continue
		}
		if *f.v < 0 {
			problem.WriteField(w, http.StatusBadRequest, "limits."+f.name, fmt.Sprintf("limits.%s must be 0 (the configured default) or more, not %d", f.name, *f.v))
			return false
		}
		*f.dst = *f.v
	}
	return true
}

func (h *Handler) createWorkspace(w http.ResponseWriter, r *http.Request) {
	if !have(w, h.deps.WorkspaceAdmin != nil, "workspace registry") {
		return
	}
	var req CreateWorkspaceRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	if err := fsm.CheckWorkspaceName(req.Name); err != nil {
		problem.WriteField(w, http.StatusBadRequest, "name", "name must be 1 to 63 lower-case letters, digits and hyphens, not beginning or ending with a hyphen: "+err.Error())
		return
	}
	var limits fsm.WorkspaceLimits
	if !req.Limits.apply(w, &limits) {
		return
	}
	ws, err := h.deps.WorkspaceAdmin.CreateWorkspace(r.Context(), fsm.CreateWorkspace{Name: req.Name, Limits: limits, AtMs: h.cfg.Now().UnixMilli()})
	if err != nil {
		h.registryFailed(w, "create the workspace", err)
		return
	}
	h.log.Info("workspace created", "id", ws.ID, "name", ws.Name)
	w.Header().Set("Location", "/api/v1/workspaces/"+strconv.FormatInt(ws.ID, 10))
	writeJSON(w, http.StatusCreated, h.workspaceInfo(ws))
}

func (h *Handler) listWorkspaces(w http.ResponseWriter, r *http.Request) {
	if !have(w, h.deps.WorkspaceAdmin != nil, "workspace registry") {
		return
	}
	all := h.deps.WorkspaceAdmin.Workspaces()
	out := make([]WorkspaceInfo, 0, len(all))
	for _, ws := range all {
		out = append(out, h.workspaceInfo(ws))
	}
	writeJSON(w, http.StatusOK, map[string][]WorkspaceInfo{"workspaces": out})
}

// pathWorkspace finds the workspace the {id} path value names (an ID or a
// name), or answers 404.
func (h *Handler) pathWorkspace(w http.ResponseWriter, r *http.Request) (fsm.Workspace, bool) {
	ref := r.PathValue("id")
	if h.deps.Workspaces != nil {
		if id, ok := h.resolveWorkspace(ref); ok {
			if ws, ok := h.deps.Workspaces.Workspace(id); ok {
				return ws, true
			}
		}
	}
	problem.Write(w, http.StatusNotFound, fmt.Sprintf("no workspace %q (give its ID or its name)", ref))
	return fsm.Workspace{}, false
}

func (h *Handler) getWorkspace(w http.ResponseWriter, r *http.Request) {
	ws, ok := h.pathWorkspace(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, h.workspaceInfo(ws))
}

func (h *Handler) updateWorkspace(w http.ResponseWriter, r *http.Request) {
	if !have(w, h.deps.WorkspaceAdmin != nil, "workspace registry") {
		return
	}
	ws, ok := h.pathWorkspace(w, r)
	if !ok {
		return
	}
	var req UpdateWorkspaceRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	c := fsm.UpdateWorkspace{ID: ws.ID}
	if req.Name != nil && *req.Name != ws.Name {
		if ws.ID == workspace.DefaultID {
			problem.WriteField(w, http.StatusBadRequest, "name", "the default workspace keeps its name")
			return
		}
		if err := fsm.CheckWorkspaceName(*req.Name); err != nil {
			problem.WriteField(w, http.StatusBadRequest, "name", "name must be 1 to 63 lower-case letters, digits and hyphens, not beginning or ending with a hyphen: "+err.Error())
			return
		}
		c.Name = *req.Name
	}
	if req.Limits != nil {
		limits := ws.Limits
		if !req.Limits.apply(w, &limits) {
			return
		}
		c.Limits = &limits
	}
	if c.Name == "" && c.Limits == nil {
		writeJSON(w, http.StatusOK, h.workspaceInfo(ws))
		return
	}
	updated, err := h.deps.WorkspaceAdmin.UpdateWorkspace(r.Context(), c)
	if err != nil {
		h.registryFailed(w, "update the workspace", err)
		return
	}
	h.log.Info("workspace updated", "id", updated.ID, "name", updated.Name)
	writeJSON(w, http.StatusOK, h.workspaceInfo(updated))
}

// registryFailed answers a failed write to the replicated registries
// (workspaces, keys, domains): the FSM's refusals as the client's fault,
// the rest as clusterFailed does.
func (h *Handler) registryFailed(w http.ResponseWriter, what string, err error) {
	switch {
	case errors.Is(err, fsm.ErrUnknownWorkspace):
		problem.Write(w, http.StatusNotFound, "cannot "+what+": no such workspace")
	case errors.Is(err, fsm.ErrUnknownDomain):
		problem.Write(w, http.StatusNotFound, "cannot "+what+": no such domain")
	case errors.Is(err, fsm.ErrWorkspaceExists):
		problem.WriteField(w, http.StatusConflict, "name", "cannot "+what+": another workspace has that name")
	case errors.Is(err, fsm.ErrWorkspaceNotEmpty):
		problem.Write(w, http.StatusConflict, "cannot "+what+": "+err.Error())
	case errors.Is(err, fsm.ErrDomainTaken):
		problem.WriteField(w, http.StatusConflict, "domain", "cannot "+what+": the domain is taken")
	case errors.Is(err, fsm.ErrDomainExists):
		problem.WriteField(w, http.StatusConflict, "domain", "cannot "+what+": the workspace has registered the domain already")
	case errors.Is(err, fsm.ErrInvalidCommand):
		problem.Write(w, http.StatusBadRequest, "cannot "+what+": "+err.Error())
	case errors.Is(err, ErrStoreUnavailable):
		h.storeFailed(w, what, err)
	default:
		h.clusterFailed(w, what, err)
	}
}
