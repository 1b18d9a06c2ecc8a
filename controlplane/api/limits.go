package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/shortify/shortify/controlplane/fsm"
	"github.com/shortify/shortify/internal/problem"
	"github.com/shortify/shortify/internal/ratelimit"
	"github.com/shortify/shortify/internal/workspace"
)

// Per-workspace limits on the create path (issue 15): the links a
// workspace holds, and the links it creates a minute. A workspace's own
// limit applies when it is above 0, else Config.WorkspaceDefaults; 0 there
// is no limit.
//
// Links held is a soft limit (docs/decisions/0004-workspace-links.md):
// the live links are counted up to the limit (CountLiveUpTo) before the
// insert, so creates racing at the limit can each pass, and a workspace
// may hold its limit plus the creates in flight at that moment. A bulk
// create counts once, for all of its links.

// CreatePolicyName names the creates-per-minute limit in the RateLimit and
// RateLimit-Policy header fields.
const CreatePolicyName = "workspace-creates"

// CreateLimiter limits the link creates of each workspace per minute,
// the same on every control-plane node (the control plane's is backed by
// Redis when it has Redis). LimiterSet implements it.
type CreateLimiter interface {
	// Allow counts one create of workspace ws against a budget of
	// perMinute creates a minute and returns the decision and the limit it
	// was taken under (for the RateLimit header fields). An error means no
	// decision could be made.
	Allow(ctx context.Context, ws, perMinute int64) (ratelimit.Decision, ratelimit.Limit, error)
	// Refund gives back a create that Allow counted, for a create that
	// failed on the server's side.
	Refund(ctx context.Context, ws, perMinute int64) error
}

// NewLimiterFunc builds the limiter of one limit for a LimiterSet, with the
// function that releases it.
type NewLimiterFunc func(l ratelimit.Limit) (ratelimit.Refunder, func(), error)

// LimiterSet is a CreateLimiter with one limiter per distinct
// creates-per-minute value, made on first use: workspaces with the same
// limit share a limiter, keyed by workspace.
type LimiterSet struct {
	newLimiter NewLimiterFunc
	mu         sync.Mutex
	byRate     map[int64]ratelimit.Refunder
	closers    []func()
}

// NewLimiterSet returns a LimiterSet whose limiters newLimiter builds; nil
// builds in-memory ones (ratelimit.Local), which hold on this node only.
// Close it when done.
func NewLimiterSet(newLimiter NewLimiterFunc) *LimiterSet {
	if newLimiter == nil {
		newLimiter = func(l ratelimit.Limit) (ratelimit.Refunder, func(), error) {
			local, err := ratelimit.NewLocal(l, ratelimit.LocalOptions{})
			if err != nil {
				return nil, nil, err
			}
			return local, local.Close, nil
		}
	}
	return &LimiterSet{newLimiter: newLimiter, byRate: make(map[int64]ratelimit.Refunder)}
}

// createLimit is the ratelimit.Limit of perMinute creates a minute: a
// workspace may create its minute's budget at once.
func createLimit(perMinute int64) ratelimit.Limit {
	return ratelimit.Limit{Rate: float64(perMinute) / 60, Burst: int(perMinute), Name: CreatePolicyName}
}

func (s *LimiterSet) limiter(perMinute int64) (ratelimit.Refunder, ratelimit.Limit, error) {
	l := createLimit(perMinute)
	s.mu.Lock()
	defer s.mu.Unlock()
	if lim, ok := s.byRate[perMinute]; ok {
		return lim, l, nil
	}
	lim, closer, err := s.newLimiter(l)
	if err != nil {
		return nil, l, fmt.Errorf("api: limiter of %d creates a minute: %w", perMinute, err)
	}
	s.byRate[perMinute] = lim
	if closer != nil {
		s.closers = append(s.closers, closer)
	}
	return lim, l, nil
}

// limiterKey names a workspace's budget; the limit is in it, so that a
// changed limit starts a fresh budget rather than reading the old one's
// state under another rate.
func limiterKey(ws, perMinute int64) string {
	return "ws-create:" + strconv.FormatInt(ws, 10) + ":" + strconv.FormatInt(perMinute, 10)
}

// Allow implements CreateLimiter.
func (s *LimiterSet) Allow(ctx context.Context, ws, perMinute int64) (ratelimit.Decision, ratelimit.Limit, error) {
	lim, l, err := s.limiter(perMinute)
	if err != nil {
		return ratelimit.Decision{}, l, err
	}
	d, err := lim.Allow(ctx, limiterKey(ws, perMinute))
	return d, l, err
}

// Refund implements CreateLimiter.
func (s *LimiterSet) Refund(ctx context.Context, ws, perMinute int64) error {
	lim, _, err := s.limiter(perMinute)
	if err != nil {
		return err
	}
	return lim.Refund(ctx, limiterKey(ws, perMinute))
}

// Close releases every limiter the set made.
func (s *LimiterSet) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.closers {
		c()
	}
	s.closers, s.byRate = nil, make(map[int64]ratelimit.Refunder)
}

// workspaceLimits returns the effective limits of workspace ws and its
// name, for the refusals.
func (h *Handler) workspaceLimits(ws int64) (fsm.WorkspaceLimits, string) {
	ws = workspace.Of(ws)
	rec := fsm.Workspace{ID: ws, Name: strconv.FormatInt(ws, 10)}
	if ws == workspace.DefaultID {
		rec.Name = workspace.DefaultName
	}
	if h.deps.Workspaces != nil {
		if found, ok := h.deps.Workspaces.Workspace(ws); ok {
			rec = found
		}
	}
	return h.effectiveLimitsOf(rec), rec.Name
}

// createBudget is what a create spent of its workspace's limits, to give
// back when it fails on the server's side.
type createBudget struct {
	ws, perMinute int64
	// spent is how many creates the limiter counted.
	spent int
}

// checkHeld answers 403 itself when workspace ws would hold more links
// than its limit with n more (503 when the count fails).
func (h *Handler) checkHeld(w http.ResponseWriter, r *http.Request, ws int64, n int) bool {
	lim, name := h.workspaceLimits(ws)
	if lim.MaxLinks <= 0 {
		return true
	}
	held, err := h.deps.Store.CountLiveUpTo(r.Context(), workspace.Of(ws), lim.MaxLinks)
	if err != nil {
		h.storeFailed(w, "count the workspace's links", err)
		return false
	}
	if held+int64(n) > lim.MaxLinks {
		detail := fmt.Sprintf("workspace %s holds %d links, its limit", name, held)
		if held < lim.MaxLinks {
			detail = fmt.Sprintf("workspace %s holds %d links; %d more would pass its limit of %d", name, held, n, lim.MaxLinks)
		}
		problem.Write(w, http.StatusForbidden, detail)
		return false
	}
	return true
}

// spendCreates counts up to n creates of workspace ws against its
// creates-per-minute limit and writes the RateLimit header fields of the
// last decision. It returns how many were allowed (n without a limit or
// a limiter); with none allowed it has answered 429 (or 503 when the
// limiter failed, closed: a broken limiter must not open the create path
// to floods) itself.
func (h *Handler) spendCreates(w http.ResponseWriter, r *http.Request, ws int64, n int) (createBudget, int, bool) {
	lim, name := h.workspaceLimits(ws)
	b := createBudget{ws: workspace.Of(ws), perMinute: lim.CreatesPerMinute}
	if lim.CreatesPerMinute <= 0 || h.deps.CreateLimiter == nil {
		return b, n, true
	}
	var (
		last ratelimit.Decision
		l    ratelimit.Limit
	)
	for b.spent < n {
		d, dl, err := h.deps.CreateLimiter.Allow(r.Context(), b.ws, b.perMinute)
		if err != nil {
			h.log.WarnContext(r.Context(), "workspace create limiter failed; refusing", "workspace", b.ws, "err", err)
			if b.spent > 0 {
				break
			}
			w.Header().Set("Retry-After", "1")
			problem.Write(w, http.StatusServiceUnavailable, "creates cannot be counted right now; retry shortly")
			return b, 0, false
		}
		last, l = d, dl
		if !d.Allowed {
			break
		}
		b.spent++
	}
	last.WriteHeaders(w.Header(), l)
	if b.spent == 0 {
		problem.Write(w, http.StatusTooManyRequests, fmt.Sprintf("workspace %s has created %d links in the last minute, its limit; retry in %d s",
			name, lim.CreatesPerMinute, max(1, int((last.RetryAfter+time.Second-1)/time.Second))))
		return b, 0, false
	}
	if b.spent < n {
		// A bulk create's later links were refused: the headers say so
		// for the request as a whole.
		w.Header().Del("Retry-After")
	}
	return b, b.spent, true
}

// refundCreates gives back k creates of b that failed on the server's
// side; the request's context may be done (the client left): the refund
// is still owed.
func (h *Handler) refundCreates(r *http.Request, b createBudget, k int) {
	if h.deps.CreateLimiter == nil || b.perMinute <= 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), refundTimeout)
	defer cancel()
	for range min(k, b.spent) {
		if err := h.deps.CreateLimiter.Refund(ctx, b.ws, b.perMinute); err != nil {
			h.log.WarnContext(r.Context(), "could not give a create back to its workspace's budget", "workspace", b.ws, "err", err)
			return
		}
	}
}

// bulkBudget applies workspace ws's limits to the valid links of a bulk
// create (pending: their indexes in results). Past the links held, the
// whole request is refused (403); past the creates a minute, the links
// beyond the budget get 429 results and the others go on, unless none
// may (then the request is a 429). It answers the client itself when it
// returns false.
func (h *Handler) bulkBudget(w http.ResponseWriter, r *http.Request, ws int64, pending []int, results []BulkResult) ([]int, createBudget, bool) {
	if len(pending) == 0 {
		return pending, createBudget{}, true
	}
	if !h.checkHeld(w, r, ws, len(pending)) {
		return nil, createBudget{}, false
	}
	b, allowed, ok := h.spendCreates(w, r, ws, len(pending))
	if !ok {
		return nil, b, false
	}
	for _, i := range pending[allowed:] {
		results[i] = BulkResult{Status: http.StatusTooManyRequests, Error: &problem.Details{
			Type: "about:blank", Status: http.StatusTooManyRequests, Title: http.StatusText(http.StatusTooManyRequests),
			Detail: "the workspace's creates a minute are spent; retry this link later (see the RateLimit header)"}}
	}
	return pending[:allowed], b, true
}
