package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/shortify/shortify/internal/problem"
)

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
