package caddymodule

import (
	"net/http"

	"github.com/shortify/shortify/internal/smartlink"
)

// passwordGate decides a request for a password-protected link (key is
// its L1 key, c its options). It reports whether the request may go on to
// the redirect: a valid cookie for the link, or the right password in an
// HTTP Basic header or the form's POST. When it reports false it has
// answered: the form (200), the form again after a wrong password (401),
// or 429 with Retry-After when the client spent its attempts.
func (h *Handler) passwordGate(w http.ResponseWriter, r *http.Request, st site, key string, c smartlink.Compiled) bool {
	panic("caddymodule: passwordGate: to be written (issue 16)")
}
