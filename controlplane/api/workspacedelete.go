package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/shortify/shortify/controlplane/fsm"
	"github.com/shortify/shortify/internal/apiquery"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/problem"
	"github.com/shortify/shortify/internal/workspace"
)

// deleteWorkspace deletes a workspace. While it holds links, domains or
// unrevoked keys it is refused (409), unless ?delete_links=true asks to
// empty it first: its links are retired (as DELETE /api/v1/links/{code}
// does, cache and link events included), its domains deleted and its keys
// revoked, and then the workspace goes. The default workspace stays.
func (h *Handler) deleteWorkspace(w http.ResponseWriter, r *http.Request) {
	vals, ok := apiquery.Params(w, r, []string{"delete_links"})
	if !ok {
		return
	}
	if !have(w, h.deps.WorkspaceAdmin != nil, "workspace registry") {
		return
	}
	ws, ok := h.pathWorkspace(w, r)
	if !ok {
		return
	}
	empty, ok := apiquery.Bool(w, vals, "delete_links")
	if !ok {
		return
	}
	if ws.ID == workspace.DefaultID {
		problem.Write(w, http.StatusConflict, "the default workspace is never deleted")
		return
	}
	held, err := h.deps.Store.CountLive(r.Context(), ws.ID)
	if err != nil {
		h.storeFailed(w, "count the workspace's links", err)
		return
	}
	if held > 0 && !empty {
		problem.Write(w, http.StatusConflict, fmt.Sprintf("workspace %s holds %d links; delete them first, or add ?delete_links=true to delete them (and the workspace's domains and keys) with it", ws.Name, held))
		return
	}
	if empty {
		if err := h.retireLinks(r.Context(), linkstore.ListQuery{WorkspaceID: ws.ID}); err != nil {
			h.storeFailed(w, "delete the workspace's links", err)
			return
		}
		if err := h.emptyWorkspace(r.Context(), ws.ID); err != nil {
			h.registryFailed(w, "empty the workspace", err)
			return
		}
	}
	if _, err := h.deps.WorkspaceAdmin.DeleteWorkspace(r.Context(), ws.ID); err != nil {
		if errors.Is(err, fsm.ErrWorkspaceNotEmpty) {
			problem.Write(w, http.StatusConflict, fmt.Sprintf("cannot delete workspace %s: %v; add ?delete_links=true to delete its links and domains and revoke its keys with it", ws.Name, err))
			return
		}
		h.registryFailed(w, "delete the workspace", err)
		return
	}
	h.log.Info("workspace deleted", "id", ws.ID, "name", ws.Name, "emptied", empty)
	w.WriteHeader(http.StatusNoContent)
}

// emptyWorkspace deletes the workspace's domains and revokes its keys.
func (h *Handler) emptyWorkspace(ctx context.Context, ws int64) error {
	if h.deps.Domains != nil && h.deps.DomainAdmin != nil {
		for _, d := range h.deps.Domains.WorkspaceDomains(ws) {
			if _, err := h.deps.DomainAdmin.DeleteDomain(ctx, fsm.DeleteDomain{Domain: d.Domain, Workspace: ws}); err != nil && !errors.Is(err, fsm.ErrUnknownDomain) {
				return fmt.Errorf("delete domain %s: %w", d.Domain, err)
			}
		}
	}
	if h.deps.Keys != nil {
		for _, k := range h.deps.Keys.ListKeys() {
			if k.Revoked || k.InstanceAdmin() || keyWorkspace(k) != ws {
				continue
			}
			if _, err := h.deps.Keys.RevokeKey(ctx, k.ID, h.cfg.Now().UTC()); err != nil {
				return fmt.Errorf("revoke key %s: %w", k.ID, err)
			}
		}
	}
	return nil
}

// retireLinks retires the live links q selects (a workspace's, or a
// domain's) page by page, newest first, with what a deletion through the
// API does for each: the L2 entry cleared, a link event, the review entry
// dropped.
func (h *Handler) retireLinks(ctx context.Context, q linkstore.ListQuery) error {
	q.Limit = linkstore.MaxListLimit
	for {
		page, err := h.deps.Store.List(ctx, q)
		if err != nil {
			return fmt.Errorf("list the links to delete: %w", err)
		}
		if len(page) == 0 {
			return nil
		}
		for _, l := range page {
			deleted, err := h.deps.Store.Delete(ctx, l.Domain, l.Code)
			if errors.Is(err, linkstore.ErrNotFound) {
				continue // retired meanwhile
			}
			if err != nil {
				return fmt.Errorf("delete link %s: %w", l.Code, err)
			}
			if h.deps.Cache != nil {
				if err := h.deps.Cache.Delete(ctx, deleted.Domain, deleted.Code); err != nil {
					h.log.Error("deleted link is still in the L2 cache until its TTL", "code", deleted.Code, "domain", deleted.Domain, "err", err)
				}
			}
			h.publishDeleted(deleted, false)
			h.dropReview(ctx, deleted.Domain, deleted.Code)
			q.Before = l.ID
		}
	}
}
