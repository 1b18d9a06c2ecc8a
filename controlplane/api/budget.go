package api

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/shortify/shortify/internal/problem"
)

// A clientBudget is a per-client limit as its limiter keys and its
// answers name it.
type clientBudget struct {
	// key prefixes the limiter key, key:client.
	key string
	// limiter names the limiter in the log.
	limiter string
	// noun is what the client sent too many of.
	noun string
	// unavailable is the 503's detail before "; retry shortly".
	unavailable string
	// hint ends both refusals' details.
	hint string
}

var (
	anonBudget = clientBudget{key: "anon-create", limiter: "anonymous-create", noun: "anonymous creates",
		unavailable: "anonymous creation is unavailable right now", hint: " or use an API key"}
	reportBudget = clientBudget{key: "report", limiter: "report", noun: "reports",
		unavailable: "reports cannot be taken right now"}
	domainCheckBudget = clientBudget{key: "domain-check", limiter: "domain-check", noun: "domain checks",
		unavailable: "domain checks cannot be taken right now"}
)

// spendClient counts a call against its client's budget b in lim,
// answering 429, or 503 when the limiter fails (closed: a broken limiter
// must not open the route to floods), itself when it may not go on. It
// returns the limiter key it spent, for a refund. A nil lim admits
// everything.
func (h *Handler) spendClient(w http.ResponseWriter, r *http.Request, lim Limiter, b clientBudget) (key string, ok bool) {
	if lim == nil {
		return "", true
	}
	client := r.RemoteAddr
	if h.deps.ClientKey != nil {
		client = h.deps.ClientKey(r)
	}
	key = b.key + ":" + client
	allowed, retry, err := lim.Allow(r.Context(), key)
	if err != nil {
		h.log.WarnContext(r.Context(), b.limiter+" limiter failed; refusing", "err", err)
		w.Header().Set("Retry-After", "1")
		problem.Write(w, http.StatusServiceUnavailable, b.unavailable+"; retry shortly"+b.hint)
		return "", false
	}
	if !allowed {
		secs := max(int(retry.Round(time.Second)/time.Second), 1)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		problem.Write(w, http.StatusTooManyRequests, fmt.Sprintf("too many %s from your address; retry in %d s%s", b.noun, secs, b.hint))
		return "", false
	}
	return key, true
}
