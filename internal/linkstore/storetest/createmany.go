package storetest

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/linkstore"
)

// testCreateManyRoundTrip: every field of every link of a batch is stored.
func testCreateManyRoundTrip(t *testing.T, s linkstore.Store) {
	ctx := t.Context()
	created := time.Date(2025, 6, 1, 12, 0, 0, 123456000, time.UTC)
	links := make([]linkstore.Link, 6)
	for i := range links {
		links[i] = NewLink()
		links[i].CreatedAt = created.Add(time.Duration(i) * time.Second)
	}
	links[1].Status = 301
	links[2].Status = 308
	links[2].ExpiresAt = created.Add(24 * time.Hour)
	links[3].Disabled = true
	links[4].CreatedAt = created.In(time.FixedZone("UTC+2", 2*3600))
	links[4].ExpiresAt = created.Add(time.Hour).In(time.FixedZone("UTC-3", -3*3600))
	links[5].URL = "https://例え.テスト/パス?q=ü"

	errs := s.CreateMany(ctx, links)
	if len(errs) != len(links) {
		t.Fatalf("CreateMany returned %d results for %d links", len(errs), len(links))
	}
	for i, l := range links {
		if errs[i] != nil {
			t.Errorf("link %d: %v", i, errs[i])
			continue
		}
		want := asStored(l)
		got, err := s.Get(ctx, "", l.Code)
		if err != nil {
			t.Errorf("Get %q: %v", l.Code, err)
			continue
		}
		CheckLink(t, "Get after CreateMany", got, want)
	}
}

// testCreateManyPerItem: one result per link, in order; a code that is
// stored or earlier in the batch is ErrCodeTaken, an invalid link has an
// error of its own (wrapping ErrInvalidLink), and neither keeps the others from being stored.
func testCreateManyPerItem(t *testing.T, s linkstore.Store) {
	ctx := t.Context()
	stored := NewLink()
	if err := s.Create(ctx, stored); err != nil {
		t.Fatal(err)
	}
	a, b, c := NewLink(), NewLink(), NewLink()
	storedAgain := NewLink()
	storedAgain.Code = stored.Code
	aAgain := NewLink()
	aAgain.Code = a.Code
	badStatus, noURL := NewLink(), NewLink()
	badStatus.Status = 303
	noURL.URL = ""
	// The first of a code is invalid: the second is the first valid one,
	// and is stored.
	dInvalid, d := NewLink(), NewLink()
	d.Code = dInvalid.Code
	dInvalid.Status = 200

	batch := []linkstore.Link{a, storedAgain, b, aAgain, badStatus, noURL, dInvalid, d, c}
	errs := s.CreateMany(ctx, batch)
	if len(errs) != len(batch) {
		t.Fatalf("CreateMany returned %d results for %d links", len(errs), len(batch))
	}
	wantTaken := map[int]bool{1: true, 3: true}
	wantInvalid := map[int]bool{4: true, 5: true, 6: true}
	for i, err := range errs {
		switch {
		case wantTaken[i]:
			if !errors.Is(err, linkstore.ErrCodeTaken) {
				t.Errorf("link %d (%q): got %v, want ErrCodeTaken", i, batch[i].Code, err)
			}
		case wantInvalid[i]:
			if !errors.Is(err, linkstore.ErrInvalidLink) {
				t.Errorf("link %d (invalid): got %v, want ErrInvalidLink", i, err)
			}
		case err != nil:
			t.Errorf("link %d (%q): %v", i, batch[i].Code, err)
		}
	}
	for _, want := range []linkstore.Link{stored, a, b, c, d} {
		got, err := s.Get(ctx, "", want.Code)
		if err != nil {
			t.Errorf("Get %q: %v", want.Code, err)
			continue
		}
		CheckLink(t, "Get after CreateMany", got, want)
	}
	for _, l := range []linkstore.Link{badStatus, noURL} {
		if _, err := s.Get(ctx, "", l.Code); !errors.Is(err, linkstore.ErrNotFound) {
			t.Errorf("Get %q (refused): got %v, want ErrNotFound", l.Code, err)
		}
	}
}

// testCreateManyAllTakenOrInvalid: a batch with nothing to insert, and an
// empty batch.
func testCreateManyAllTakenOrInvalid(t *testing.T, s linkstore.Store) {
	ctx := t.Context()
	if errs := s.CreateMany(ctx, nil); len(errs) != 0 {
		t.Errorf("CreateMany(nil) = %v, want no results", errs)
	}
	stored := NewLink()
	if err := s.Create(ctx, stored); err != nil {
		t.Fatal(err)
	}
	again := NewLink()
	again.Code = stored.Code
	empty := NewLink()
	empty.Code = ""
	errs := s.CreateMany(ctx, []linkstore.Link{again, empty})
	if len(errs) != 2 || !errors.Is(errs[0], linkstore.ErrCodeTaken) ||
		!errors.Is(errs[1], linkstore.ErrInvalidLink) {
		t.Errorf("CreateMany(taken, empty code) = %v, want [ErrCodeTaken, ErrInvalidLink]", errs)
	}
	got, err := s.Get(ctx, "", stored.Code)
	if err != nil {
		t.Fatal(err)
	}
	CheckLink(t, "Get after CreateMany of a taken code", got, stored)
}

// testCreateManyOne: a batch of one (what a batcher sends at low load),
// alone or next to links that are not inserted.
func testCreateManyOne(t *testing.T, s linkstore.Store) {
	ctx := t.Context()
	l := NewLink()
	l.Status = 302
	l.ExpiresAt = l.CreatedAt.Add(time.Hour)
	if errs := s.CreateMany(ctx, []linkstore.Link{l}); len(errs) != 1 || errs[0] != nil {
		t.Fatalf("CreateMany(one) = %v", errs)
	}
	got, err := s.Get(ctx, "", l.Code)
	if err != nil {
		t.Fatal(err)
	}
	CheckLink(t, "Get", got, l)
	again := NewLink()
	again.Code = l.Code
	if errs := s.CreateMany(ctx, []linkstore.Link{again}); !errors.Is(errs[0], linkstore.ErrCodeTaken) {
		t.Errorf("CreateMany(one taken) = %v, want ErrCodeTaken", errs)
	}
	invalid, fresh := NewLink(), NewLink()
	invalid.URL = ""
	errs := s.CreateMany(ctx, []linkstore.Link{invalid, fresh, again})
	if errs[0] == nil || errs[1] != nil || !errors.Is(errs[2], linkstore.ErrCodeTaken) {
		t.Errorf("CreateMany(invalid, new, taken) = %v, want [error, nil, ErrCodeTaken]", errs)
	}
	if _, err := s.Get(ctx, "", fresh.Code); err != nil {
		t.Errorf("Get %q: %v", fresh.Code, err)
	}
	ctxC, cancel := context.WithCancel(ctx)
	cancel()
	if errs := s.CreateMany(ctxC, []linkstore.Link{NewLink()}); !errors.Is(errs[0], context.Canceled) {
		t.Errorf("CreateMany(one) with a cancelled context = %v, want context.Canceled", errs)
	}
}

// testCreateManyLarge: the largest batch the API sends.
func testCreateManyLarge(t *testing.T, s linkstore.Store) {
	ctx := t.Context()
	links := make([]linkstore.Link, 1000)
	for i := range links {
		links[i] = NewLink()
	}
	for i, err := range s.CreateMany(ctx, links) {
		if err != nil {
			t.Fatalf("link %d: %v", i, err)
		}
	}
	for _, i := range []int{0, 1, 499, 998, 999} {
		got, err := s.Lookup(ctx, "", links[i].Code)
		if err != nil {
			t.Fatalf("Lookup %d: %v", i, err)
		}
		CheckLink(t, "Lookup", got, links[i])
	}
}

// testCreateManyConcurrentOverlap: batches that share codes, each in its
// own order, run at once (as a batcher's workers do): every code is won by
// exactly one of them, the others get ErrCodeTaken, and no batch fails.
// Two transactions that take the same codes in opposite orders must not
// deadlock; whether they would depends on timing, hence a few rounds.
func testCreateManyConcurrentOverlap(t *testing.T, s linkstore.Store) {
	for range 3 {
		createManyOverlapRound(t, s)
	}
}

func createManyOverlapRound(t *testing.T, s linkstore.Store) {
	ctx := t.Context()
	const batches, size = 4, 300
	codes := make([]string, size)
	for i := range codes {
		codes[i] = NewCode()
	}
	// Every other batch takes the codes in the reverse order of the one
	// before: if the store locked them in the order given, the two would
	// meet in the middle, each waiting for the other.
	perm := rand.Perm(size)
	inputs := make([][]linkstore.Link, batches)
	for b := range inputs {
		inputs[b] = make([]linkstore.Link, size)
		for i, j := range perm {
			inputs[b][i] = NewLink()
			inputs[b][i].Code = codes[j]
		}
		slices.Reverse(perm)
	}
	results := AllAtOnce(batches, func(b int) []error { return s.CreateMany(ctx, inputs[b]) })

	winners := map[string]linkstore.Link{}
	for b, errs := range results {
		for i, err := range errs {
			l := inputs[b][i]
			switch {
			case err == nil:
				if w, ok := winners[l.Code]; ok {
					t.Errorf("code %q stored twice (IDs %d and %d)", l.Code, w.ID, l.ID)
				}
				winners[l.Code] = l
			case !errors.Is(err, linkstore.ErrCodeTaken):
				t.Fatalf("batch %d, link %d: %v", b, i, err)
			}
		}
	}
	for _, code := range codes {
		w, ok := winners[code]
		if !ok {
			t.Fatalf("code %q: no batch stored it", code)
		}
		got, err := s.Get(ctx, "", code)
		if err != nil {
			t.Fatalf("Get %q: %v", code, err)
		}
		CheckLink(t, "Get winner", got, w)
	}
}

// testCreateManyCancelled: a cancelled context fails every link and
// stores none.
func testCreateManyCancelled(t *testing.T, s linkstore.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	links := []linkstore.Link{NewLink(), NewLink()}
	for i, err := range s.CreateMany(ctx, links) {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("link %d: got %v, want context.Canceled", i, err)
		}
	}
	for _, l := range links {
		if _, err := s.Get(t.Context(), "", l.Code); !errors.Is(err, linkstore.ErrNotFound) {
			t.Errorf("Get after cancelled CreateMany: got %v, want ErrNotFound", err)
		}
	}
}
