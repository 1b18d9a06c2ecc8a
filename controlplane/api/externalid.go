package api

// This file answers the refusals of a link's external ID (issue 17): an
// external ID is unique among the live links of a workspace, and the 409
// names the link that has it, so that an importer picks that link up
// instead of creating a second one.

import (
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/problem"
	"github.com/shortify/shortify/internal/workspace"
)

// externalIDConflict is the 409 for err, an *ExternalIDTakenError: its
// code and domain members name the existing link.
func externalIDConflict(taken *linkstore.ExternalIDTakenError) problem.Details {
	return problem.Details{
		Type:   "about:blank",
		Status: http.StatusConflict, Title: http.StatusText(http.StatusConflict), Field: "external_id",
		Detail: fmt.Sprintf("the external_id %q is already the link %q's in this workspace (its code and domain are in this answer)",
			taken.ExternalID, taken.Existing.Code),
		Code: taken.Existing.Code, Domain: taken.Existing.Domain,
	}
}

// externalIDTaken answers the 409 and reports true when err is an
// *ExternalIDTakenError; otherwise it answers nothing.
func (h *Handler) externalIDTaken(w http.ResponseWriter, err error) bool {
	taken, ok := errors.AsType[*linkstore.ExternalIDTakenError](err)
	if !ok {
		return false
	}
	problem.WriteDetails(w, externalIDConflict(taken))
	return true
}

// bulkExternalIDTaken is a bulk create's result for a link refused with
// err, an error wrapping ErrExternalIDTaken: a 409 naming the existing
// link, which comes with the result too (absent if it can no longer be
// read), so that an importer needs no second request.
func (h *Handler) bulkExternalIDTaken(r *http.Request, err error) BulkResult {
	taken, ok := errors.AsType[*linkstore.ExternalIDTakenError](err)
	if !ok {
		d := problem.Details{Type: "about:blank", Status: http.StatusConflict, Title: http.StatusText(http.StatusConflict),
			Field: "external_id", Detail: err.Error()}
		return BulkResult{Status: http.StatusConflict, Error: &d}
	}
	d := externalIDConflict(taken)
	res := BulkResult{Status: http.StatusConflict, Error: &d}
	if l, err := h.deps.Store.Get(r.Context(), taken.Existing.Domain, taken.Existing.Code); err == nil && callerOf(r).sees(l.WorkspaceID) {
		out := []Link{h.present(r, l)}
		h.withReviews(r.Context(), out)
		res.Link = &out[0]
	}
	return res
}

// externalIDRepeated is the refusal of a bulk create's link whose
// external_id an earlier link of the same request (index first) has.
func externalIDRepeated(id string, first int) *problem.Details {
	return &problem.Details{Status: http.StatusConflict, Field: "external_id",
		Detail: fmt.Sprintf("the external_id %q is already used by link %d of this request", id, first)}
}

// bulkAlreadyThere answers, without trying to insert them, the pending
// links of a bulk create whose external ID a live link of their workspace
// has already: a second import run's links, all found with one indexed
// query instead of one lock, refusal and read each. Their results are
// the 409 that CreateMany's refusal gives, with the existing link; it
// returns the links still pending. A link created by someone else after
// this look-up is still refused by the store, under its lock. When the
// look-up fails, every link stays pending: the store checks them all.
func (h *Handler) bulkAlreadyThere(r *http.Request, pending []int, links []linkstore.Link, results []BulkResult) []int {
	ids := make([]string, 0, len(pending))
	var ws int64
	for _, i := range pending {
		if links[i].ExternalID != "" {
			ids, ws = append(ids, links[i].ExternalID), links[i].WorkspaceID
		}
	}
	if len(ids) == 0 {
		return pending
	}
	found, err := h.deps.Store.ByExternalIDs(r.Context(), ws, ids)
	if err != nil {
		h.log.WarnContext(r.Context(), "bulk create: external IDs not looked up; the store checks each", "err", err)
		return pending
	}
	if len(found) == 0 {
		return pending
	}
	var there []int
	out := make([]Link, 0, len(found))
	pending = slices.DeleteFunc(pending, func(i int) bool {
		l, ok := found[links[i].ExternalID]
		if !ok || links[i].ExternalID == "" || !callerOf(r).sees(l.WorkspaceID) {
			return false
		}
		there = append(there, i)
		out = append(out, h.present(r, l))
		return true
	})
	h.withReviews(r.Context(), out)
	for k, i := range there {
		d := externalIDConflict(&linkstore.ExternalIDTakenError{ExternalID: links[i].ExternalID, Existing: found[links[i].ExternalID].Key()})
		results[i] = BulkResult{Status: http.StatusConflict, Error: &d, Link: &out[k]}
	}
	return pending
}

// bulkAliasTaken is a bulk create's result for a link refused because its
// alias is taken on domain: a 409 naming alias, with the live link that
// has it when the caller's workspace owns that link (never another
// workspace's), so that an importer can tell a link it brought in before
// under its original code (an export imported back) from a stranger's.
// The link is the one read for the detail anyway: no extra query.
func (h *Handler) bulkAliasTaken(r *http.Request, domain, alias string) BulkResult {
	detail, l := h.takenBy(r.Context(), domain, alias)
	res := BulkResult{Status: http.StatusConflict, Error: &problem.Details{
		Type:   "about:blank",
		Status: http.StatusConflict, Title: http.StatusText(http.StatusConflict), Field: "alias", Detail: detail}}
	if l != nil && workspace.Of(l.WorkspaceID) == callerOf(r).homeWorkspace() {
		out := []Link{h.present(r, *l)}
		h.withReviews(r.Context(), out)
		res.Link = &out[0]
	}
	return res
}
