package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/shortify/shortify/internal/apikey"
	"github.com/shortify/shortify/internal/problem"
	"github.com/shortify/shortify/internal/workspace"
)

// maxKeyName bounds a key's name.
const maxKeyName = 100

// CreateKeyRequest is the body of POST /api/v1/admin/keys.
type CreateKeyRequest struct {
	Name string `json:"name"`
	Role string `json:"role"`
	// Workspace is the workspace the key belongs to, by ID or name.
	// Absent: the workspace the request acts in; for an instance admin
	// acting in none, an instance admin key (role admin) or a key of the
	// default workspace (viewer, creator).
	Workspace WorkspaceRef `json:"workspace,omitempty"`
}

// WorkspaceRef names a workspace in a request body: its ID (a JSON number
// or a decimal string) or its name.
type WorkspaceRef string

// UnmarshalJSON takes a number or a string; null is absent.
func (w *WorkspaceRef) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		*w = ""
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*w = WorkspaceRef(strings.TrimSpace(s))
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return errors.New("workspace must be a workspace ID or name")
	}
	*w = WorkspaceRef(strconv.FormatInt(n, 10))
	return nil
}

// KeyInfo is a key as the API shows it: never its secret or hash.
type KeyInfo struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"created_at"`
	Revoked   bool      `json:"revoked"`
	// Workspace is the key's workspace; absent for an instance admin.
	Workspace int64 `json:"workspace,omitempty"`
	// InstanceAdmin: an admin key of no workspace, which manages the
	// instance and may act in every workspace.
	InstanceAdmin bool `json:"instance_admin"`
}

// NewKey is the answer of a key creation: the only time the key is shown.
type NewKey struct {
	KeyInfo
	// Key is the secret to send in X-Api-Key; it is not stored.
	Key string `json:"key"`
}

// keyWorkspace is the workspace a key belongs to: 0 for an instance
// admin; a viewer or creator key without one (the form from before
// workspaces) belongs to the default workspace.
func keyWorkspace(r KeyRecord) int64 {
	if r.Workspace == 0 && !r.InstanceAdmin() {
		return workspace.DefaultID
	}
	return r.Workspace
}

func keyInfo(r KeyRecord) KeyInfo {
	return KeyInfo{ID: r.ID, Name: r.Name, Role: string(r.Role), CreatedAt: r.CreatedAt.UTC(), Revoked: r.Revoked,
		Workspace: keyWorkspace(r), InstanceAdmin: r.InstanceAdmin()}
}

// keyVisible tells whether the caller may see (and revoke) the key: an
// instance admin key only an instance admin acting over every workspace,
// a workspace's key whoever sees that workspace. What it may not see is
// answered like a key that does not exist.
func keyVisible(c caller, r KeyRecord) bool {
	if r.InstanceAdmin() {
		return c.workspace == 0 && c.key.InstanceAdmin()
	}
	return c.sees(keyWorkspace(r))
}

func (h *Handler) listKeys(w http.ResponseWriter, r *http.Request) {
	if !have(w, h.deps.Keys != nil, "key ring") {
		return
	}
	c := callerOf(r)
	recs := h.deps.Keys.ListKeys()
	out := make([]KeyInfo, 0, len(recs))
	for _, rec := range recs {
		if keyVisible(c, rec) {
			out = append(out, keyInfo(rec))
		}
	}
	writeJSON(w, http.StatusOK, map[string][]KeyInfo{"keys": out})
}

func (h *Handler) createKey(w http.ResponseWriter, r *http.Request) {
	if !have(w, h.deps.Keys != nil, "key ring") {
		return
	}
	var req CreateKeyRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	req.Name = strings.TrimSpace(req.Name)
	if req.Name == "" || len(req.Name) > maxKeyName {
		problem.WriteField(w, http.StatusBadRequest, "name", fmt.Sprintf("name is required: 1 to %d characters that say whose the key is", maxKeyName))
		return
	}
	role, err := apikey.ParseRole(req.Role)
	if err != nil {
		problem.WriteField(w, http.StatusBadRequest, "role", "role must be viewer, creator or admin")
		return
	}
	ws, ok := h.newKeyWorkspace(w, callerOf(r), req.Workspace, role)
	if !ok {
		return
	}
	k, err := apikey.New()
	if err != nil {
		h.unavailable(w, "make a key", err)
		return
	}
	rec := KeyRecord{ID: k.ID, Name: req.Name, Role: role, Hash: k.Hash, CreatedAt: h.cfg.Now().UTC().Truncate(time.Millisecond), Workspace: ws}
	if err := h.deps.Keys.AddKey(r.Context(), rec); err != nil {
		h.registryFailed(w, "store the key", err)
		return
	}
	h.log.Info("API key created", "id", rec.ID, "name", rec.Name, "role", rec.Role, "workspace", rec.Workspace)
	setAuditTarget(r, rec.ID)
	writeJSON(w, http.StatusCreated, NewKey{KeyInfo: keyInfo(rec), Key: k.Secret})
}

// newKeyWorkspace is the workspace a new key goes to (0: an instance
// admin key), or answers why not. A workspace's admin makes keys of its
// own workspace only: naming another is a 404, as a workspace that does
// not exist.
func (h *Handler) newKeyWorkspace(w http.ResponseWriter, c caller, ref WorkspaceRef, role apikey.Role) (int64, bool) {
	if ref == "" {
		if c.workspace == 0 {
			// An instance admin acting over every workspace.
			if role == apikey.Admin {
				return 0, true
			}
			return workspace.DefaultID, true
		}
		return c.workspace, true
	}
	ws, ok := h.resolveWorkspace(string(ref))
	if !ok || !c.sees(ws) {
		problem.WriteField(w, http.StatusNotFound, "workspace", fmt.Sprintf("no workspace %q", string(ref)))
		return 0, false
	}
	return ws, true
}

func (h *Handler) revokeKey(w http.ResponseWriter, r *http.Request) {
	if !have(w, h.deps.Keys != nil, "key ring") {
		return
	}
	id := r.PathValue("id")
	if len(id) != apikey.IDLen {
		problem.WriteField(w, http.StatusBadRequest, "id", fmt.Sprintf("%q is not a key ID (%d characters)", id, apikey.IDLen))
		return
	}
	if rec, ok := h.deps.Keys.LookupKey(id); !ok || !keyVisible(callerOf(r), rec) {
		problem.Write(w, http.StatusNotFound, fmt.Sprintf("no key has the ID %q", id))
		return
	}
	found, err := h.deps.Keys.RevokeKey(r.Context(), id, h.cfg.Now().UTC())
	if err != nil {
		h.registryFailed(w, "revoke the key", err)
		return
	}
	if !found {
		problem.Write(w, http.StatusNotFound, fmt.Sprintf("no key has the ID %q", id))
		return
	}
	h.log.Info("API key revoked", "id", id)
	w.WriteHeader(http.StatusNoContent)
}
