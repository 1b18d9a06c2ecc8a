package storetest

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/shortify/shortify/internal/linkstore"
)

// withExternalID returns a new link of the workspace with the external ID.
func withExternalID(ws int64, id string) linkstore.Link {
	l := NewLink()
	l.WorkspaceID, l.ExternalID = ws, id
	return l
}

// checkTaken fails unless err is an *ExternalIDTakenError naming want.
func checkTaken(t *testing.T, what string, err error, want linkstore.Key) {
	t.Helper()
	taken, ok := errors.AsType[*linkstore.ExternalIDTakenError](err)
	if !ok || !errors.Is(err, linkstore.ErrExternalIDTaken) || taken.Existing != want {
		t.Errorf("%s: %v, want ExternalIDTakenError naming %v", what, err, want)
	}
}

// testExternalID: an external ID comes back from every read, filters
// the listing, and is unique among the live links of a workspace (Create,
// CreateMany within and across batches, Update), naming the link that
// has it; another workspace's is independent; deleting or clearing frees
// it.
func testExternalID(t *testing.T, s linkstore.Store) {
	ctx := t.Context()
	ws, other := NewWorkspace(), NewWorkspace()
	first := withExternalID(ws, "bitly:Ab3 dé/🚀")
	if err := s.Create(ctx, first); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if got := ReadLink(t, s, "", first.Code); got.ExternalID != first.ExternalID {
		t.Errorf("Get: external ID %q, want %q", got.ExternalID, first.ExternalID)
	}
	checkList(t, s, linkstore.ListQuery{WorkspaceID: ws, ExternalID: first.ExternalID}, []linkstore.Link{first})
	checkList(t, s, linkstore.ListQuery{WorkspaceID: other, ExternalID: first.ExternalID}, nil)
	checkList(t, s, linkstore.ListQuery{WorkspaceID: ws, ExternalID: strings.ToUpper(first.ExternalID)}, nil)

	second := withExternalID(ws, first.ExternalID)
	checkTaken(t, "Create of a taken external ID", s.Create(ctx, second), first.Key())
	elsewhere := withExternalID(other, first.ExternalID)
	if err := s.Create(ctx, elsewhere); err != nil {
		t.Errorf("the same external ID in another workspace: %v", err)
	}

	fresh, dupInBatch, plain := withExternalID(ws, "x-"+NewCode()), withExternalID(ws, ""), withExternalID(ws, "")
	dupInBatch.ExternalID = fresh.ExternalID
	errs := s.CreateMany(ctx, []linkstore.Link{second, fresh, dupInBatch, plain})
	checkTaken(t, "CreateMany of a taken external ID", errs[0], first.Key())
	if errs[1] != nil || errs[3] != nil {
		t.Errorf("CreateMany of a free external ID and of none: %v, %v", errs[1], errs[3])
	}
	checkTaken(t, "CreateMany of an external ID twice", errs[2], fresh.Key())
	if _, err := s.Get(ctx, "", second.Code); !errors.Is(err, linkstore.ErrNotFound) {
		t.Errorf("a link refused for its external ID was stored: %v", err)
	}

	taken := first.ExternalID
	_, err := s.Update(ctx, "", fresh.Code, linkstore.Update{ExternalID: &taken})
	checkTaken(t, "Update to a taken external ID", err, first.Key())
	same := fresh.ExternalID
	if got, err := s.Update(ctx, "", fresh.Code, linkstore.Update{ExternalID: &same}); err != nil || got.ExternalID != same {
		t.Errorf("Update to its own external ID: %+v, %v", got.ExternalID, err)
	}
	clear, free := "", "y-"+NewCode()
	if got, err := s.Update(ctx, "", plain.Code, linkstore.Update{ExternalID: &free}); err != nil || got.ExternalID != free {
		t.Errorf("Update to a free external ID: %q, %v", got.ExternalID, err)
	}
	if got, err := s.Update(ctx, "", fresh.Code, linkstore.Update{ExternalID: &clear}); err != nil || got.ExternalID != "" {
		t.Errorf("clearing the external ID: %q, %v", got.ExternalID, err)
	}
	if err := s.Create(ctx, withExternalID(ws, fresh.ExternalID)); err != nil {
		t.Errorf("an external ID cleared is free: %v", err)
	}
	if _, err := s.Delete(ctx, "", first.Code); err != nil {
		t.Fatal(err)
	}
	again := withExternalID(ws, first.ExternalID)
	if err := s.Create(ctx, again); err != nil {
		t.Errorf("an external ID of a deleted link is free: %v", err)
	}
	checkList(t, s, linkstore.ListQuery{WorkspaceID: ws, ExternalID: first.ExternalID}, []linkstore.Link{again})
}

// testExternalIDInvalid: every store refuses the same external IDs, with
// errors that wrap ErrInvalidLink and name the field.
func testExternalIDInvalid(t *testing.T, s linkstore.Store) {
	ctx := t.Context()
	code := NewLinkCode(t, s)
	for _, id := range []string{strings.Repeat("é", 256), "a\nb", "tab\there", "nul\x00", "\xff", "nbsp\u00a0"} {
		l := withExternalID(0, id)
		if err := s.Create(ctx, l); !errors.Is(err, linkstore.ErrInvalidLink) || !strings.Contains(err.Error(), "external_id") {
			t.Errorf("Create with external ID %q: %v, want ErrInvalidLink naming external_id", id, err)
		}
		if errs := s.CreateMany(ctx, []linkstore.Link{l}); !errors.Is(errs[0], linkstore.ErrInvalidLink) {
			t.Errorf("CreateMany with external ID %q: %v", id, errs[0])
		}
		if _, err := s.Update(ctx, "", code, linkstore.Update{ExternalID: &id}); !errors.Is(err, linkstore.ErrInvalidLink) {
			t.Errorf("Update with external ID %q: %v", id, err)
		}
		if _, err := s.List(ctx, linkstore.ListQuery{ExternalID: id}); err == nil {
			t.Errorf("List with external ID %q: no error", id)
		}
	}
	if err := s.Create(ctx, withExternalID(NewWorkspace(), strings.Repeat("é", 255))); err != nil {
		t.Errorf("an external ID of 255 characters: %v", err)
	}
}

// testExternalIDConcurrent: of creates racing with one external ID, in
// one workspace, exactly one succeeds, and the others name it.
func testExternalIDConcurrent(t *testing.T, s linkstore.Store) {
	ws, id := NewWorkspace(), "race-"+NewCode()
	links := make([]linkstore.Link, 8)
	for i := range links {
		links[i] = withExternalID(ws, id)
	}
	errs := AllAtOnce(len(links), func(i int) error {
		if i%2 == 0 {
			return s.Create(t.Context(), links[i])
		}
		return s.CreateMany(t.Context(), []linkstore.Link{links[i], NewLink()})[0]
	})
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won >= 0:
			t.Fatalf("links %d and %d were both created with external ID %q", won, i, id)
		case err == nil:
			won = i
		case !errors.Is(err, linkstore.ErrExternalIDTaken):
			t.Errorf("link %d: %v", i, err)
		}
	}
	if won < 0 {
		t.Fatal("no create won")
	}
	for i, err := range errs {
		if i != won {
			checkTaken(t, "a create that lost", err, links[won].Key())
		}
	}
}

// testByExternalIDs: ByExternalIDs finds, by external ID, exactly the live
// links of the workspace asked about: not another workspace's, not a
// deleted one's, not an unknown ID; more IDs than one query binds too.
func testByExternalIDs(t *testing.T, s linkstore.Store) {
	ctx := t.Context()
	ws, other := NewWorkspace(), NewWorkspace()
	a, b, gone := withExternalID(ws, "a-"+NewCode()), withExternalID(ws, "b-"+NewCode()), withExternalID(ws, "gone-"+NewCode())
	elsewhere := withExternalID(other, "e-"+NewCode())
	for i, err := range s.CreateMany(ctx, []linkstore.Link{a, b, gone, elsewhere}) {
		if err != nil {
			t.Fatalf("CreateMany link %d: %v", i, err)
		}
	}
	if _, err := s.Delete(ctx, "", gone.Code); err != nil {
		t.Fatal(err)
	}
	ids := []string{a.ExternalID, gone.ExternalID, elsewhere.ExternalID}
	for i := range 700 {
		ids = append(ids, "unknown-"+strconv.Itoa(i))
	}
	ids = append(ids, b.ExternalID)
	found, err := s.ByExternalIDs(ctx, ws, ids)
	if err != nil {
		t.Fatalf("ByExternalIDs: %v", err)
	}
	if len(found) != 2 || found[a.ExternalID].Code != a.Code || found[b.ExternalID].Code != b.Code ||
		found[a.ExternalID].URL != a.URL || found[b.ExternalID].WorkspaceID != ws {
		t.Errorf("ByExternalIDs: %+v, want links %q and %q", found, a.Code, b.Code)
	}
	if found, err := s.ByExternalIDs(ctx, ws, nil); err != nil || len(found) != 0 {
		t.Errorf("ByExternalIDs of none: %v, %v", found, err)
	}
}
