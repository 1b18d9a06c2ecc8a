package api

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/problem"
)

// readyTimeout bounds a readiness check, so that a hung database makes the
// probe fail instead of hang.
const readyTimeout = 2 * time.Second

// healthz is liveness: the process answers. It checks no dependency, so
// that an orchestrator never restarts a node because PostgreSQL is down.
func (h *Handler) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz is readiness: the node can create links (Raft lease and sequence
// block held, database answering).
func (h *Handler) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if h.deps.Ready != nil {
		if err := h.deps.Ready(ctx); err != nil {
			// The cause (no leader, no lease, no block) names peers and
			// Raft internals: the log has it, this unauthenticated
			// endpoint does not.
			h.log.Warn("readiness: the node cannot serve writes", "err", err)
			w.Header().Set("Retry-After", "1")
			problem.Write(w, http.StatusServiceUnavailable, NotReadyDetail)
			return
		}
	}
	if err := h.deps.Store.Ping(ctx); err != nil {
		// The driver's message (host names, users) goes to the log, not
		// to this unauthenticated endpoint.
		h.log.Warn("readiness: the link database does not answer", "err", err)
		w.Header().Set("Retry-After", "1")
		problem.Write(w, http.StatusServiceUnavailable, "not ready: the link database does not answer")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// NotReadyDetail is the whole detail of a 503 when the control plane
// cannot serve (no Raft leader, no lease, a failed Raft write): the cause
// names leader addresses and Raft internals, so it goes to the log only.
const NotReadyDetail = "the control plane is not ready; retry shortly"

// unavailable answers 503 when the node cannot issue identities or write
// through Raft (no leader, no lease, sequence exhausted): the client may
// retry, here or elsewhere. The error is logged, never sent.
func (h *Handler) unavailable(w http.ResponseWriter, what string, err error) {
	if h.outOfSpace(w, what, h.raftCause(err)) {
		return
	}
	h.log.Error("cannot "+what, "err", err)
	w.Header().Set("Retry-After", "1")
	problem.Write(w, http.StatusServiceUnavailable, "cannot "+what+" right now: "+NotReadyDetail)
}

// have answers 503 and returns false when the API was built without the
// dependency a route needs (present is false): "this API has no <what>
// behind it". A route that lacks one is wired but idle, not a 404.
func have(w http.ResponseWriter, present bool, what string) bool {
	if !present {
		problem.Write(w, http.StatusServiceUnavailable, "this API has no "+what+" behind it")
	}
	return present
}

// storeFailed answers a database failure without leaking its details.
func (h *Handler) storeFailed(w http.ResponseWriter, what string, err error) {
	if errors.Is(err, context.Canceled) {
		// The client went away; nobody reads the answer.
		return
	}
	if errors.Is(err, linkstore.ErrInvalidLink) {
		// The handlers validate first; this is the store's last word on
		// input they let through, and still the client's fault.
		problem.Write(w, http.StatusBadRequest, "could not "+what+": "+err.Error())
		return
	}
	if h.outOfSpace(w, what, err) {
		return
	}
	h.log.Error(what+" failed", "err", err)
	w.Header().Set("Retry-After", "1")
	problem.Write(w, http.StatusServiceUnavailable, "could not "+what+": the link database is unavailable; retry shortly")
}

// Pending serves the handler in p once it is there, and until then a 503
// with Retry-After (NotReadyDetail): a node's listeners open before the
// node does. The internal listener and the test harnesses serve through it.
func Pending(p *atomic.Pointer[http.Handler]) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h := p.Load()
		if h == nil {
			w.Header().Set("Retry-After", "1")
			problem.Write(w, http.StatusServiceUnavailable, NotReadyDetail)
			return
		}
		(*h).ServeHTTP(w, r)
	}
}
