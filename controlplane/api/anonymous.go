package api

import (
	"context"
	"net/http"
	"time"

	"github.com/shortify/shortify/internal/apiauth"
)

// Anonymous creates (Config.AnonymousCreate) are limited per client by
// Deps.AnonymousLimiter. The budget is for links created, not for
// requests: the handler spends it only once the request has passed every
// check that needs no database (content type, body, target URL, alias
// syntax), and gives it back when the create fails on the server's side
// (no ID or code to issue, the node not ready, the database unavailable)
// or the client left. A taken alias (409) keeps it spent: that request
// did try a write, and refunding it would let a client probe aliases
// against the database without limit.

// refundTimeout bounds giving a create back: a slow limiter must not hold
// the answer.
const refundTimeout = time.Second

// anonymous reports whether r is an anonymous create, which the access
// check let through without a key.
func (h *Handler) anonymous(r *http.Request) bool {
	key, err := apiauth.RequestKey(r)
	return err == nil && key == "" && h.cfg.AnonymousCreate
}

// spendAnonymous counts an anonymous create against its client, answering
// 429 or 503 itself when it may not go on. When it may, the caller must
// defer the returned settle: it gives the create back unless w's status
// says a link was created or the alias was taken.
func (h *Handler) spendAnonymous(w *statusWriter, r *http.Request) (settle func(), ok bool) {
	if h.deps.AnonymousLimiter == nil {
		return func() {}, true
	}
	key, ok := h.spendClient(w, r, h.deps.AnonymousLimiter, anonBudget)
	if !ok {
		return nil, false
	}
	return func() {
		if w.status == http.StatusCreated || w.status == http.StatusConflict {
			return
		}
		// The request's context may be done (the client left): the
		// refund is still owed.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), refundTimeout)
		defer cancel()
		if err := h.deps.AnonymousLimiter.Refund(ctx, key); err != nil {
			h.log.WarnContext(r.Context(), "could not give an anonymous create back to its client", "status", w.status, "err", err)
		}
	}, true
}
