package api

// This file holds the organizing fields of a link (title, tags, notes),
// the list's tag filter, search and sort, and the tags routes (issue 17,
// "Organize"). The title is the owner's: no background fetch from the
// target page fills it in yet.

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/shortify/shortify/internal/apiquery"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/problem"
)

// OrganizeFields are the organizing fields of a create or a PATCH: nil
// leaves a field as it is (absent on a create); "" or [] clears it.
type OrganizeFields struct {
	// Title is at most 500 characters.
	Title *string `json:"title,omitempty"`
	// Tags are at most 20 tags of 1 to 64 characters, trimmed and
	// deduplicated ignoring ASCII case (the first spelling is kept). A
	// PATCH replaces the link's tags whole.
	Tags *[]string `json:"tags,omitempty"`
	// Notes are at most 10,000 characters, shown to the owner alone.
	Notes *string `json:"notes,omitempty"`
	// ExternalID is the creator's own identifier of the link: 1 to 255
	// printable characters, unique among the live links of the
	// workspace ("" on a create: none; in a PATCH: clears it).
	ExternalID *string `json:"external_id,omitempty"`
}

// OrganizeView shows a link's organizing fields; each is absent when
// empty.
type OrganizeView struct {
	Title string   `json:"title,omitempty"`
	Tags  []string `json:"tags,omitempty"`
	Notes string   `json:"notes,omitempty"`
	// ExternalID is absent when the link has none.
	ExternalID string `json:"external_id,omitempty"`
}

// check checks the fields, answering a 400 naming the field (title,
// notes, tags or tags[i]) as the store would refuse them.
func (f OrganizeFields) check() *problem.Details {
	if err := linkstore.CheckOrganize(f.Title, f.Notes, f.Tags); err != nil {
		return smartProblem(err)
	}
	if f.ExternalID != nil && *f.ExternalID != "" {
		if err := linkstore.ValidateExternalID(*f.ExternalID); err != nil {
			return smartProblem(err)
		}
	}
	return nil
}

// apply sets f to the organizing fields of a new link.
func (f OrganizeFields) apply(l *linkstore.Link) {
	if f.Title != nil {
		l.Title = *f.Title
	}
	if f.Notes != nil {
		l.Notes = *f.Notes
	}
	if f.Tags != nil {
		l.Tags = linkstore.CleanTags(*f.Tags)
	}
	if f.ExternalID != nil {
		l.ExternalID = *f.ExternalID
	}
}

// update sets f's fields in u.
func (f OrganizeFields) update(u *linkstore.Update) {
	u.Title, u.Notes, u.ExternalID = f.Title, f.Notes, f.ExternalID
	if f.Tags != nil {
		tags := linkstore.CleanTags(*f.Tags)
		u.Tags = &tags
	}
}

// organizeView is how answers show l's organizing fields.
func organizeView(l linkstore.Link) OrganizeView {
	return OrganizeView{Title: l.Title, Tags: l.Tags, Notes: l.Notes, ExternalID: l.ExternalID}
}

// repeatableParam takes the values of the repeatable query parameter name
// out of r's query, and returns a request whose query lacks it (so that
// apiquery.Params, which refuses repeated parameters, checks the rest).
func repeatableParam(r *http.Request, name string) (*http.Request, []string, error) {
	vals, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return r, nil, err
	}
	got, ok := vals[name]
	if !ok {
		return r, nil, nil
	}
	delete(vals, name)
	r2 := r.Clone(r.Context())
	r2.URL.RawQuery = vals.Encode()
	return r2, got, nil
}

// organizeQuery reads the list's tag (repeatable), q, sort and
// external_id parameters
// into q; the store checks them (Bounds), and listLinks answers its
// FieldError as a 400 naming the parameter.
func organizeQuery(vals url.Values, tags []string, q *linkstore.ListQuery) {
	for _, t := range tags {
		if t != "" { // an empty value counts as absent, as for every list parameter
			q.Tags = append(q.Tags, t)
		}
	}
	q.Query = vals.Get("q")
	q.Sort = vals.Get("sort")
	q.ExternalID = vals.Get("external_id")
}

// checkListQuery answers 400 naming the parameter when the store would
// refuse q, before the store is asked.
func checkListQuery(w http.ResponseWriter, q linkstore.ListQuery) bool {
	if _, err := q.Bounds(); err != nil {
		problem.WriteDetails(w, *smartProblem(err))
		return false
	}
	return true
}

// TagCount is one tag of GET /api/v1/tags.
type TagCount struct {
	Tag string `json:"tag"`
	// Links is the number of the workspace's live links that have it.
	Links int64 `json:"links"`
}

// TagList is the answer of GET /api/v1/tags.
type TagList struct {
	Tags []TagCount `json:"tags"`
}

// RenameTagRequest is the body of PATCH /api/v1/tags/{tag}.
type RenameTagRequest struct {
	Name string `json:"name"`
}

// TagChange is the answer of PATCH and DELETE /api/v1/tags/{tag}.
type TagChange struct {
	// Links is the number of links changed.
	Links int64 `json:"links"`
}

// tagRoutes registers the tags routes.
func (h *Handler) tagRoutes() {
	h.handle("GET /api/v1/tags", viewer, h.listTags)
	h.handle("PATCH /api/v1/tags/{tag}", creator, h.renameTag)
	h.handle("DELETE /api/v1/tags/{tag}", creator, h.deleteTag)
}

// listTags answers GET /api/v1/tags: the caller's workspace's tags, most
// used first.
func (h *Handler) listTags(w http.ResponseWriter, r *http.Request) {
	if _, ok := apiquery.Params(w, r, nil); !ok {
		return
	}
	tags, err := h.deps.Store.Tags(r.Context(), callerOf(r).homeWorkspace())
	if err != nil {
		h.storeFailed(w, "list tags", err)
		return
	}
	out := TagList{Tags: make([]TagCount, 0, len(tags))}
	for _, t := range tags {
		out.Tags = append(out.Tags, TagCount{Tag: t.Tag, Links: t.Links})
	}
	writeJSON(w, http.StatusOK, out)
}

// pathTag reads and checks the {tag} of the path, answering 400 itself.
func pathTag(w http.ResponseWriter, r *http.Request) (string, bool) {
	tag := strings.TrimSpace(r.PathValue("tag"))
	if err := linkstore.ValidateTag(tag); err != nil {
		problem.WriteField(w, http.StatusBadRequest, "tag", fmt.Sprintf("tag: %v", err))
		return "", false
	}
	return tag, true
}

// renameTag answers PATCH /api/v1/tags/{tag} {"name": new}: the tag is
// renamed on every live link of the caller's workspace.
func (h *Handler) renameTag(w http.ResponseWriter, r *http.Request) {
	tag, ok := pathTag(w, r)
	if !ok {
		return
	}
	var req RenameTagRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	name := strings.TrimSpace(req.Name)
	if err := linkstore.ValidateTag(name); err != nil {
		problem.WriteField(w, http.StatusBadRequest, "name", fmt.Sprintf("name: %v", err))
		return
	}
	n, err := h.deps.Store.RenameTag(r.Context(), callerOf(r).homeWorkspace(), tag, name)
	if err != nil {
		h.storeFailed(w, "rename tag", err)
		return
	}
	writeJSON(w, http.StatusOK, TagChange{Links: n})
}

// deleteTag answers DELETE /api/v1/tags/{tag}: the tag is removed from
// every live link of the caller's workspace (the links stay).
func (h *Handler) deleteTag(w http.ResponseWriter, r *http.Request) {
	tag, ok := pathTag(w, r)
	if !ok {
		return
	}
	n, err := h.deps.Store.DeleteTag(r.Context(), callerOf(r).homeWorkspace(), tag)
	if err != nil {
		h.storeFailed(w, "delete tag", err)
		return
	}
	writeJSON(w, http.StatusOK, TagChange{Links: n})
}

// clicksCursor is the cursor of a listing sorted by clicks: the last
// link's clicks and ID.
type clicksCursor struct{ clicks, id int64 }

// takeClicksCursor reads the cursor of a listing sorted by clicks out of
// vals (deleting it, so that parseListQuery does not read it as an ID
// cursor) and returns it, the zero cursor (the first page) without one, or
// nil after answering a 400 naming cursor.
func takeClicksCursor(w http.ResponseWriter, vals url.Values) *clicksCursor {
	if !vals.Has("cursor") {
		return &clicksCursor{}
	}
	clicks, id, err := decodeClicksCursor(vals.Get("cursor"))
	if err != nil {
		problem.WriteField(w, http.StatusBadRequest, "cursor", err.Error())
		return nil
	}
	vals.Del("cursor")
	return &clicksCursor{clicks: clicks, id: id}
}
