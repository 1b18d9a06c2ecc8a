// Package apiauth authenticates the API keys of Shortify's HTTP APIs (the
// control plane's and the stats API): it reads the key from
// "Authorization: Bearer <key>" or X-Api-Key, checks it against a key ring
// and a role, and gives the 400, 401, 403 and 503 answers as RFC 9457
// problem documents, so that every API takes the same keys and refuses them
// alike.
package apiauth

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/shortify/shortify/internal/apikey"
	"github.com/shortify/shortify/internal/problem"
)

// KeyHeader carries the API key of a call.
const KeyHeader = "X-Api-Key"

// AuthorizationHeader carries the API key as a bearer token, the form the
// dashboard and the documentation use: "Authorization: Bearer sk_…".
// Caddy's logs redact it by default, which they do not do for X-Api-Key.
const AuthorizationHeader = "Authorization"

// Challenges are the WWW-Authenticate values of a 401: the bearer scheme
// first (the preferred form), then the X-Api-Key header.
var Challenges = []string{`Bearer realm="shortify"`, `ApiKey header="` + KeyHeader + `"`}

// KeyHint says where a key goes, for the details of 401 answers.
const KeyHint = "as \"Authorization: Bearer <key>\" (or in the " + KeyHeader + " header)"

// Errors of RequestKey.
var (
	// ErrConflictingKeys: the request carries two different keys, one in
	// each header; which one the caller meant is anyone's guess.
	ErrConflictingKeys = errors.New("the Authorization and " + KeyHeader + " headers carry different keys; send one key, preferably as \"Authorization: Bearer <key>\"")
	// ErrNotBearer: Authorization is present but not a bearer token.
	ErrNotBearer = errors.New("the Authorization header must read \"Bearer <key>\"; no other scheme is accepted")
)

// KeyRecord is a stored API key: never the key itself, only its hash.
type KeyRecord struct {
	ID        string
	Name      string
	Role      apikey.Role
	Hash      [32]byte
	CreatedAt time.Time
	Revoked   bool
	// Workspace is the workspace the key acts in with its role; 0 for an
	// instance admin (see InstanceAdmin). The keys from before workspaces
	// are instance admins (admin keys) or belong to the default workspace.
	Workspace int64
}

// InstanceAdmin tells whether the key is an instance admin: an admin key
// of no workspace, which may act in every workspace and on the instance's
// settings.
func (r KeyRecord) InstanceAdmin() bool { return r.Role == apikey.Admin && r.Workspace == 0 }

// KeyLookup finds API key records by ID: the control plane's replicated key
// ring, which both APIs authenticate with.
type KeyLookup interface {
	// LookupKey returns the record of the key with the ID.
	LookupKey(id string) (KeyRecord, bool)
}

// NoKeys is an empty key ring: every key is unknown.
type NoKeys struct{}

// LookupKey implements KeyLookup; it finds nothing.
func (NoKeys) LookupKey(string) (KeyRecord, bool) { return KeyRecord{}, false }

// RequestKey returns the API key of r, from "Authorization: Bearer <key>"
// or from X-Api-Key, or "" when it carries none. Both headers may be sent
// when they carry the same key.
func RequestKey(r *http.Request) (string, error) {
	header := strings.TrimSpace(r.Header.Get(KeyHeader))
	auth := strings.TrimSpace(r.Header.Get(AuthorizationHeader))
	if auth == "" {
		return header, nil
	}
	scheme, token, ok := strings.Cut(auth, " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", ErrNotBearer
	}
	if header != "" && header != token {
		return "", ErrConflictingKeys
	}
	return token, nil
}

// Authenticate checks key against the key ring: well formed, known, not
// revoked, and matching the stored hash (compared in constant time). It
// returns the key's record.
func Authenticate(keys KeyLookup, key string) (KeyRecord, bool) {
	id, err := apikey.Parse(key)
	if err != nil {
		return KeyRecord{}, false
	}
	rec, ok := keys.LookupKey(id)
	if !ok || rec.Revoked || !apikey.Matches(key, rec.Hash) {
		return KeyRecord{}, false
	}
	return rec, true
}

// Check authenticates r for a key of role or above, answering the request
// itself when it falls short: 400 for two different keys, 401 (with the
// challenges) for a malformed Authorization header, no key or a key that is
// not valid, 403 for a key of a lower role, and 503 (Retry-After: 1) when
// keys is nil, a key ring not available yet. subject names what needs the
// key in the answers ("this route", "the stats API").
func Check(w http.ResponseWriter, r *http.Request, keys KeyLookup, role apikey.Role, subject string) (KeyRecord, bool) {
	key, err := RequestKey(r)
	if err != nil {
		WriteKeyError(w, err)
		return KeyRecord{}, false
	}
	if key == "" {
		WriteUnauthorized(w, fmt.Sprintf("%s needs an API key of role %s or above, %s", subject, role, KeyHint))
		return KeyRecord{}, false
	}
	if keys == nil {
		w.Header().Set("Retry-After", "1")
		problem.Write(w, http.StatusServiceUnavailable, "the key ring is not available (the control plane is starting or stopping); retry shortly")
		return KeyRecord{}, false
	}
	rec, ok := Authenticate(keys, key)
	if !ok {
		WriteUnauthorized(w, "the API key is not valid (malformed, unknown or revoked)")
		return KeyRecord{}, false
	}
	if !rec.Role.Allows(role) {
		problem.Write(w, http.StatusForbidden, fmt.Sprintf("%s needs role %s or above; key %s has role %s", subject, role, rec.ID, rec.Role))
		return KeyRecord{}, false
	}
	// The admin routes administer the instance: a workspace's admin key
	// does not reach them (the workspace's own routes check its role).
	if role == apikey.Admin && !rec.InstanceAdmin() {
		problem.Write(w, http.StatusForbidden, fmt.Sprintf("%s needs an instance admin key; key %s is an admin of workspace %d only", subject, rec.ID, rec.Workspace))
		return KeyRecord{}, false
	}
	return rec, true
}

// WriteKeyError answers a request whose credentials RequestKey refused:
// 400 for two different keys, 401 (with the challenges) otherwise.
func WriteKeyError(w http.ResponseWriter, err error) {
	if errors.Is(err, ErrConflictingKeys) {
		problem.Write(w, http.StatusBadRequest, err.Error())
		return
	}
	WriteUnauthorized(w, err.Error())
}

// WriteUnauthorized answers 401 with the WWW-Authenticate challenges and
// detail.
func WriteUnauthorized(w http.ResponseWriter, detail string) {
	for _, c := range Challenges {
		w.Header().Add("WWW-Authenticate", c)
	}
	problem.Write(w, http.StatusUnauthorized, detail)
}
