package api

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/shortify/shortify/internal/apikey"
	"github.com/shortify/shortify/internal/problem"
)

// maxKeyName bounds a key's name.
const maxKeyName = 100

// CreateKeyRequest is the body of POST /api/v1/admin/keys.
type CreateKeyRequest struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

// KeyInfo is a key as the API shows it: never its secret or hash.
type KeyInfo struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"created_at"`
	Revoked   bool      `json:"revoked"`
}

// NewKey is the answer of a key creation: the only time the key is shown.
type NewKey struct {
	KeyInfo
	// Key is the secret to send in X-Api-Key; it is not stored.
	Key string `json:"key"`
}

func keyInfo(r KeyRecord) KeyInfo {
	return KeyInfo{ID: r.ID, Name: r.Name, Role: string(r.Role), CreatedAt: r.CreatedAt.UTC(), Revoked: r.Revoked}
}

func (h *Handler) listKeys(w http.ResponseWriter, r *http.Request) {
	if !have(w, h.deps.Keys != nil, "key ring") {
		return
	}
	recs := h.deps.Keys.ListKeys()
	out := make([]KeyInfo, 0, len(recs))
	for _, rec := range recs {
		out = append(out, keyInfo(rec))
	}
	writeJSON(w, http.StatusOK, map[string][]KeyInfo{"keys": out})
}

func (h *Handler) createKey(w http.ResponseWriter, r *http.Request) {
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
	k, err := apikey.New()
	if err != nil {
		h.unavailable(w, "make a key", err)
		return
	}
	rec := KeyRecord{ID: k.ID, Name: req.Name, Role: role, Hash: k.Hash, CreatedAt: h.cfg.Now().UTC().Truncate(time.Millisecond)}
	if err := h.deps.Keys.AddKey(r.Context(), rec); err != nil {
		h.unavailable(w, "store the key", err)
		return
	}
	h.log.Info("API key created", "id", rec.ID, "name", rec.Name, "role", rec.Role)
	setAuditTarget(r, rec.ID)
	writeJSON(w, http.StatusCreated, NewKey{KeyInfo: keyInfo(rec), Key: k.Secret})
}

func (h *Handler) revokeKey(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if len(id) != apikey.IDLen {
		problem.WriteField(w, http.StatusBadRequest, "id", fmt.Sprintf("%q is not a key ID (%d characters)", id, apikey.IDLen))
		return
	}
	found, err := h.deps.Keys.RevokeKey(r.Context(), id, h.cfg.Now().UTC())
	if err != nil {
		h.unavailable(w, "revoke the key", err)
		return
	}
	if !found {
		problem.Write(w, http.StatusNotFound, fmt.Sprintf("no key has the ID %q", id))
		return
	}
	h.log.Info("API key revoked", "id", id)
	w.WriteHeader(http.StatusNoContent)
}
