package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/problem"
)

// The administrator's routes over links: takedowns (the edge answers 451
// with the reason) and the release of a retired code, the one way a code
// is ever issued again.

// TakedownRequest is the body of POST /api/v1/admin/links/{code}/takedown.
type TakedownRequest struct {
	// Reason is shown on the edge's 451 page: plain text, one line, 1 to
	// linkstore.MaxTakedownReason characters.
	Reason string `json:"reason"`
}

// Takedown is a link's takedown as the API shows it.
type Takedown struct {
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

func (h *Handler) takedownRoutes() {
	h.handle("POST /api/v1/admin/links/{code}/takedown", admin, h.takeDown)
	h.handle("DELETE /api/v1/admin/links/{code}/takedown", admin, h.liftTakedown)
	h.handle("DELETE /api/v1/admin/codes/{code}", admin, h.releaseCode)
}

func (h *Handler) takeDown(w http.ResponseWriter, r *http.Request) {
	domain, code, ok := h.linkRef(w, r)
	if !ok {
		return
	}
	var req TakedownRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	if err := linkstore.ValidateTakedownReason(req.Reason); err != nil {
		problem.WriteField(w, http.StatusBadRequest, "reason", err.Error())
		return
	}
	at := h.cfg.Now().UTC().Truncate(time.Microsecond)
	h.changeTakedown(w, r, domain, code, "take down link", func(ctx context.Context) (linkstore.Link, error) {
		return h.deps.Store.TakeDown(ctx, domain, code, req.Reason, at)
	})
}

func (h *Handler) liftTakedown(w http.ResponseWriter, r *http.Request) {
	domain, code, ok := h.linkRef(w, r)
	if !ok {
		return
	}
	h.changeTakedown(w, r, domain, code, "lift takedown", func(ctx context.Context) (linkstore.Link, error) {
		return h.deps.Store.LiftTakedown(ctx, domain, code)
	})
}

// changeTakedown runs a takedown change and makes every edge see it: the
// new state goes through to L2, and the link event makes the edges evict
// the code from their L1s, within the invalidation bound.
func (h *Handler) changeTakedown(w http.ResponseWriter, r *http.Request, domain, code, what string,
	change func(context.Context) (linkstore.Link, error)) {
	link, err := change(r.Context())
	if err != nil {
		if errors.Is(err, linkstore.ErrNotFound) {
			problem.Write(w, http.StatusNotFound, strings.Replace(missingLink(domain, code), "no link", "no live link", 1))
			return
		}
		h.storeFailed(w, what, err)
		return
	}
	h.writeThrough(r.Context(), link)
	h.publishUpdated(link)
	h.log.Info(what, "domain", domain, "code", code, "reason", link.TakedownReason)
	writeJSON(w, http.StatusOK, h.present(r, link))
}

// releaseCode removes a retired link's row so that its code can be
// issued again: 204, 409 while the link is live, 404 for an unknown code.
func (h *Handler) releaseCode(w http.ResponseWriter, r *http.Request) {
	domain, code, ok := h.linkRef(w, r)
	if !ok {
		return
	}
	on := ""
	if domain != "" {
		on = " on " + domain
	}
	switch err := h.deps.Store.Release(r.Context(), domain, code); {
	case errors.Is(err, linkstore.ErrLinkLive):
		problem.WriteField(w, http.StatusConflict, "code",
			fmt.Sprintf("the link %q%s is live: only the code of an expired or deleted link can be released", code, on))
	case errors.Is(err, linkstore.ErrNotFound):
		problem.Write(w, http.StatusNotFound, fmt.Sprintf("no link has or had the code %q%s", code, on))
	case err != nil:
		h.storeFailed(w, "release code", err)
	default:
		h.log.Warn("code released: it may be issued again", "domain", domain, "code", code)
		w.WriteHeader(http.StatusNoContent)
	}
}

// takenDetail says why a create could not have alias on domain: a live
// link has it, or a link had it and the code is retired, never to be
// issued again on that domain.
func (h *Handler) takenDetail(ctx context.Context, domain, alias string) string {
	detail, _ := h.takenBy(ctx, domain, alias)
	return detail
}

// takenBy is takenDetail and, when a live link has the alias, that link
// (read once for both).
func (h *Handler) takenBy(ctx context.Context, domain, alias string) (string, *linkstore.Link) {
	l, err := h.deps.Store.Get(ctx, domain, alias)
	if errors.Is(err, linkstore.ErrNotFound) {
		return fmt.Sprintf("the alias %q was used before and is never reissued: "+
			"a short URL, once issued, never changes hands, even after its link expired or was deleted", alias), nil
	}
	detail := fmt.Sprintf("the alias %q is already taken", alias)
	if err != nil {
		return detail, nil
	}
	return detail, &l
}

// takenDownDetail is the refusal of a change to a taken-down link.
func takenDownDetail(code string) string {
	return fmt.Sprintf("the link %q was taken down by an administrator: "+
		"it cannot be changed or enabled until the takedown is lifted", code)
}
