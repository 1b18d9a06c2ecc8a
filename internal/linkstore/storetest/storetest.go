// Package storetest is the conformance suite that every linkstore.Store
// implementation passes: the PostgreSQL and SQLite stores run the same
// tests, so everything the two backends share behaves the same.
//
// The stores under test may share one database between subtests and with
// other tests of the package: every subtest uses codes, hosts and ID
// ranges of its own, and lists with filters that only its links pass.
//
// BenchCreate and BenchCreateMany are the stores' shared write
// benchmarks.
package storetest

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/workspace"
)

// Run runs the suite. open returns a ready store for one subtest and
// arranges (with t.Cleanup) for it to be closed; it may be called many
// times, from parallel subtests.
func Run(t *testing.T, open func(t *testing.T) linkstore.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s linkstore.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"TimePrecision", testTimePrecision},
		{"DuplicateCode", testDuplicateCode},
		{"NotFound", testNotFound},
		{"Delete", testDelete},
		{"CaseSensitiveCodes", testCaseSensitiveCodes},
		{"LongAndUnicodeURLs", testLongAndUnicodeURLs},
		{"InvalidLinksRejected", testInvalidLinksRejected},
		{"InvalidLinkError", testInvalidLinkError},
		{"ConcurrentDistinctCreates", testConcurrentDistinctCreates},
		{"ConcurrentSameCode", testConcurrentSameCode},
		{"CancelledContext", testCancelledContext},
		{"Ping", testPing},
		{"CreateManyRoundTrip", testCreateManyRoundTrip},
		{"CreateManyPerItem", testCreateManyPerItem},
		{"CreateManyAllTakenOrInvalid", testCreateManyAllTakenOrInvalid},
		{"CreateManyOne", testCreateManyOne},
		{"CreateManyLarge", testCreateManyLarge},
		{"CreateManyConcurrentOverlap", testCreateManyConcurrentOverlap},
		{"CreateManyCancelled", testCreateManyCancelled},
		{"UpdateFields", testUpdateFields},
		{"UpdateNotFound", testUpdateNotFound},
		{"UpdateInvalid", testUpdateInvalid},
		{"UpdateURLMovesHost", testUpdateURLMovesHost},
		{"ListOrder", testListOrder},
		{"ListPagination", testListPagination},
		{"ListPrefix", testListPrefix},
		{"ListHost", testListHost},
		{"ListIDRange", testListIDRange},
		{"ListCombined", testListCombined},
		{"ListLimit", testListLimit},
		{"RetireExpired", testRetireExpired},
		{"DeletedNeverReissued", testDeletedNeverReissued},
		{"Takedown", testTakedown},
		{"SameAliasTwoDomains", testSameAliasTwoDomains},
		{"DomainCodeTaken", testDomainCodeTaken},
		{"DomainWrites", testDomainWrites},
		{"InvalidDomainOrWorkspace", testInvalidDomainOrWorkspace},
		{"ListWorkspaceAndDomain", testListWorkspaceAndDomain},
		{"CountLive", testCountLive},
		{"CountLiveUpTo", testCountLiveUpTo},
		{"SmartEveryRead", testSmartEveryRead},
		{"SmartCreateMany", testSmartCreateMany},
		{"SmartUpdate", testSmartUpdate},
		{"ClaimClick", testClaimClick},
		{"OrganizeRoundTrip", testOrganizeRoundTrip},
		{"OrganizeInvalid", testOrganizeInvalid},
		{"ListTagsAndQuery", testListTagsAndQuery},
		{"TagsRenameDelete", testTagsRenameDelete},
		{"ExternalID", testExternalID},
		{"ExternalIDInvalid", testExternalIDInvalid},
		{"ExternalIDConcurrent", testExternalIDConcurrent},
		{"ByExternalIDs", testByExternalIDs},
		{"SetClicks", testSetClicks},
		{"ListByClicks", testListByClicks},
		{"SetTitleIfEmpty", testSetTitleIfEmpty},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

// NewCode returns a random 12-character Base62 code that no other test uses.
func NewCode() string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	var b [12]byte
	for i := range b {
		b[i] = alphabet[rand.IntN(len(alphabet))]
	}
	return string(b[:])
}

// NewLink returns a valid link with a fresh code, ID and creation time
// (microsecond precision, UTC: what a store gives back).
func NewLink() linkstore.Link {
	code := NewCode()
	return linkstore.Link{
		ID:        rand.Int64(),
		Code:      code,
		URL:       "https://example.com/" + code,
		CreatedAt: time.Now().UTC().Truncate(time.Microsecond),
	}
}

func testRoundTrip(t *testing.T, s linkstore.Store) {
	ctx := t.Context()
	created := time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.UTC)
	tests := []struct {
		name string
		edit func(l *linkstore.Link)
	}{
		{"defaults", func(l *linkstore.Link) {}},
		{"301 with expiry", func(l *linkstore.Link) {
			l.Status = 301
			l.ExpiresAt = created.Add(30 * 24 * time.Hour)
		}},
		{"302 disabled", func(l *linkstore.Link) { l.Status = 302; l.Disabled = true }},
		{"307 expired and disabled", func(l *linkstore.Link) {
			l.Status = 307
			l.ExpiresAt = created.Add(-time.Hour)
			l.Disabled = true
		}},
		{"308 with largest ID", func(l *linkstore.Link) { l.Status = 308; l.ID = math.MaxInt64 }},
		{"zero ID", func(l *linkstore.Link) { l.ID = 0 }},
		{"created in another zone", func(l *linkstore.Link) {
			l.CreatedAt = created.In(time.FixedZone("UTC+5:30", 5*3600+1800))
			l.ExpiresAt = created.Add(time.Minute).In(time.FixedZone("UTC-8", -8*3600))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := NewLink()
			l.CreatedAt = created
			tt.edit(&l)
			if err := s.Create(ctx, l); err != nil {
				t.Fatalf("Create: %v", err)
			}
			want := asStored(l)
			got, err := s.Get(ctx, "", l.Code)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			CheckLink(t, "Get", got, want)
			got, err = s.Lookup(ctx, "", l.Code)
			if err != nil {
				t.Fatalf("Lookup: %v", err)
			}
			CheckLink(t, "Lookup", got, want)
		})
	}
}

// testTimePrecision: nanoseconds are cut to microseconds (PostgreSQL's
// precision), the same way on every backend.
func testTimePrecision(t *testing.T, s linkstore.Store) {
	ctx := t.Context()
	l := NewLink()
	l.CreatedAt = time.Date(2030, 1, 2, 3, 4, 5, 123456789, time.UTC)
	l.ExpiresAt = time.Date(2031, 1, 2, 3, 4, 5, 999999999, time.UTC)
	if err := s.Create(ctx, l); err != nil {
		t.Fatalf("Create: %v", err)
	}
	want := l
	want.CreatedAt = time.Date(2030, 1, 2, 3, 4, 5, 123456000, time.UTC)
	want.ExpiresAt = time.Date(2031, 1, 2, 3, 4, 5, 999999000, time.UTC)
	got, err := s.Get(ctx, "", l.Code)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	CheckLink(t, "Get", got, want)
}

func testDuplicateCode(t *testing.T, s linkstore.Store) {
	ctx := t.Context()
	first := NewLink()
	first.Status = 301
	if err := s.Create(ctx, first); err != nil {
		t.Fatalf("Create: %v", err)
	}
	second := first
	second.ID++
	second.URL = "https://example.org/other"
	second.Status = 307
	second.Disabled = true
	if err := s.Create(ctx, second); !errors.Is(err, linkstore.ErrCodeTaken) {
		t.Fatalf("second Create of %q: got %v, want ErrCodeTaken", first.Code, err)
	}
	got, err := s.Get(ctx, "", first.Code)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	CheckLink(t, "Get after duplicate", got, first)
}

func testNotFound(t *testing.T, s linkstore.Store) {
	ctx := t.Context()
	code := NewCode()
	if _, err := s.Get(ctx, "", code); !errors.Is(err, linkstore.ErrNotFound) {
		t.Errorf("Get(unknown): got %v, want ErrNotFound", err)
	}
	if _, err := s.Lookup(ctx, "", code); !errors.Is(err, linkstore.ErrNotFound) {
		t.Errorf("Lookup(unknown): got %v, want ErrNotFound", err)
	}
	if l, err := s.Delete(ctx, "", code); !errors.Is(err, linkstore.ErrNotFound) || !reflect.DeepEqual(l, linkstore.Link{}) {
		t.Errorf("Delete(unknown): got %+v, %v; want ErrNotFound", l, err)
	}
}

// testDelete: Delete returns the link (every field, after an update too),
// retired, and the code is never free again.
func testDelete(t *testing.T, s linkstore.Store) {
	ctx := t.Context()
	l := NewLink()
	l.Status = 307
	l.ExpiresAt = l.CreatedAt.Add(48 * time.Hour)
	if err := s.Create(ctx, l); err != nil {
		t.Fatalf("Create: %v", err)
	}
	disabled := true
	if _, err := s.Update(ctx, "", l.Code, linkstore.Update{Disabled: &disabled}); err != nil {
		t.Fatalf("Update: %v", err)
	}
	l.Disabled = true
	deleted, err := s.Delete(ctx, "", l.Code)
	if err != nil {
		t.Fatalf("Delete: %v", err)
	}
	CheckLink(t, "Delete's link", deleted, l)
	plain := NewLink()
	if err := s.Create(ctx, plain); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if deleted, err = s.Delete(ctx, "", plain.Code); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	plain.Disabled = true // a deleted link is disabled too
	CheckLink(t, "Delete's link without expiry", deleted, plain)
	if _, err := s.Get(ctx, "", l.Code); !errors.Is(err, linkstore.ErrNotFound) {
		t.Errorf("Get after Delete: got %v, want ErrNotFound", err)
	}
	if _, err := s.Lookup(ctx, "", l.Code); !errors.Is(err, linkstore.ErrNotFound) {
		t.Errorf("Lookup after Delete: got %v, want ErrNotFound", err)
	}
	if _, err := s.Delete(ctx, "", l.Code); !errors.Is(err, linkstore.ErrNotFound) {
		t.Errorf("second Delete: got %v, want ErrNotFound", err)
	}
	// The code is retired, never free again.
	again := NewLink()
	again.Code = l.Code
	if err := s.Create(ctx, again); !errors.Is(err, linkstore.ErrCodeTaken) {
		t.Fatalf("Create after Delete: got %v, want ErrCodeTaken", err)
	}
}

func testCaseSensitiveCodes(t *testing.T, s linkstore.Store) {
	ctx := t.Context()
	prefix := NewCode()
	lower := NewLink()
	lower.Code = prefix + "abcDEF"
	upper := NewLink()
	upper.Code = prefix + "ABCdef"
	upper.URL = "https://example.org/upper"
	for _, l := range []linkstore.Link{lower, upper} {
		if err := s.Create(ctx, l); err != nil {
			t.Fatalf("Create %q: %v", l.Code, err)
		}
	}
	for _, want := range []linkstore.Link{lower, upper} {
		got, err := s.Lookup(ctx, "", want.Code)
		if err != nil {
			t.Fatalf("Lookup %q: %v", want.Code, err)
		}
		CheckLink(t, "Lookup "+want.Code, got, want)
	}
	if _, err := s.Get(ctx, "", prefix+"abcdef"); !errors.Is(err, linkstore.ErrNotFound) {
		t.Errorf("Get of a third casing: got %v, want ErrNotFound", err)
	}
	if deleted, err := s.Delete(ctx, "", lower.Code); err != nil || deleted.Code != lower.Code || deleted.ID != lower.ID {
		t.Fatalf("Delete: %+v, %v", deleted, err)
	}
	if _, err := s.Get(ctx, "", upper.Code); err != nil {
		t.Errorf("deleting %q removed %q: %v", lower.Code, upper.Code, err)
	}
}

func testLongAndUnicodeURLs(t *testing.T, s linkstore.Store) {
	ctx := t.Context()
	urls := []string{
		"https://example.com/" + strings.Repeat("a1b2c3d4e5", 210) + "?q=" + strings.Repeat("x", 100),
		"https://例え.テスト/パス?q=ü&emoji=😀#片",
		"https://example.com/" + strings.Repeat("ø", 5000),
		"https://example.com/it's%20\"quoted\";--",
	}
	for _, u := range urls {
		l := NewLink()
		l.URL = u
		if err := s.Create(ctx, l); err != nil {
			t.Fatalf("Create (URL of %d bytes): %v", len(u), err)
		}
		got, err := s.Lookup(ctx, "", l.Code)
		if err != nil {
			t.Fatalf("Lookup: %v", err)
		}
		if got.URL != u {
			t.Errorf("URL of %d bytes came back as %d bytes: %.80q…", len(u), len(got.URL), got.URL)
		}
	}
}

// testInvalidLinksRejected: the schema's CHECKs refuse what no caller
// should ever store, and a refused Create stores nothing.
func testInvalidLinksRejected(t *testing.T, s linkstore.Store) {
	ctx := t.Context()
	tests := []struct {
		name string
		edit func(l *linkstore.Link)
	}{
		{"status 303", func(l *linkstore.Link) { l.Status = 303 }},
		{"status 200", func(l *linkstore.Link) { l.Status = 200 }},
		{"status -1", func(l *linkstore.Link) { l.Status = -1 }},
		{"status out of range", func(l *linkstore.Link) { l.Status = 65536 + 301 }},
		{"empty URL", func(l *linkstore.Link) { l.URL = "" }},
	}
	for _, tt := range tests {
		l := NewLink()
		tt.edit(&l)
		err := s.Create(ctx, l)
		if !errors.Is(err, linkstore.ErrInvalidLink) {
			t.Errorf("%s: Create returned %v, want ErrInvalidLink", tt.name, err)
		}
		if _, err := s.Get(ctx, "", l.Code); !errors.Is(err, linkstore.ErrNotFound) {
			t.Errorf("%s: Get after refused Create: got %v, want ErrNotFound", tt.name, err)
		}
	}
	l := NewLink()
	l.Code = ""
	if err := s.Create(ctx, l); !errors.Is(err, linkstore.ErrInvalidLink) {
		t.Errorf("empty code: Create returned %v, want ErrInvalidLink", err)
	}
}

// testInvalidLinkError: Create, CreateMany and Update refuse an invalid
// link or change with an error that wraps linkstore.ErrInvalidLink, so
// that callers can tell bad input from a database failure (which does
// not wrap it).
func testInvalidLinkError(t *testing.T, s linkstore.Store) {
	ctx := t.Context()
	tests := []struct {
		name string
		edit func(l *linkstore.Link)
	}{
		{"empty code", func(l *linkstore.Link) { l.Code = "" }},
		{"status 200", func(l *linkstore.Link) { l.Status = 200 }},
		{"URL with a NUL byte", func(l *linkstore.Link) { l.URL += "\x00x" }},
		{"code not UTF-8", func(l *linkstore.Link) { l.Code += "\xff" }},
	}
	var batch []linkstore.Link
	for _, tt := range tests {
		l := NewLink()
		tt.edit(&l)
		if err := l.Validate(); !errors.Is(err, linkstore.ErrInvalidLink) {
			t.Errorf("%s: Validate returned %v, want ErrInvalidLink", tt.name, err)
		}
		if err := s.Create(ctx, l); !errors.Is(err, linkstore.ErrInvalidLink) {
			t.Errorf("%s: Create returned %v, want ErrInvalidLink", tt.name, err)
		}
		if errs := s.CreateMany(ctx, []linkstore.Link{l}); len(errs) != 1 || !errors.Is(errs[0], linkstore.ErrInvalidLink) {
			t.Errorf("%s: CreateMany(one) returned %v, want [ErrInvalidLink]", tt.name, errs)
		}
		batch = append(batch, l)
	}
	// Among valid links, which are stored.
	valid := []linkstore.Link{NewLink(), NewLink()}
	batch = append([]linkstore.Link{valid[0]}, append(batch, valid[1])...)
	errs := s.CreateMany(ctx, batch)
	if len(errs) != len(batch) {
		t.Fatalf("CreateMany returned %d results for %d links", len(errs), len(batch))
	}
	for i, err := range errs {
		switch i {
		case 0, len(batch) - 1:
			if err != nil {
				t.Errorf("CreateMany: valid link %d: %v", i, err)
			}
		default:
			if !errors.Is(err, linkstore.ErrInvalidLink) {
				t.Errorf("CreateMany: %s: got %v, want ErrInvalidLink", tests[i-1].name, err)
			}
		}
	}
	for _, l := range valid {
		if _, err := s.Get(ctx, "", l.Code); err != nil {
			t.Errorf("Get %q after CreateMany: %v", l.Code, err)
		}
	}

	nul, status := "https://example.com/\x00", 200
	for _, u := range []linkstore.Update{{URL: &nul}, {Status: &status}} {
		if _, err := s.Update(ctx, "", valid[0].Code, u); !errors.Is(err, linkstore.ErrInvalidLink) {
			t.Errorf("Update(%+v): got %v, want ErrInvalidLink", u, err)
		}
	}

	// A failure that is not the link's: a valid link with a cancelled
	// context.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := s.Create(cctx, NewLink()); err == nil || errors.Is(err, linkstore.ErrInvalidLink) {
		t.Errorf("Create with a cancelled context: got %v, want an error that is not ErrInvalidLink", err)
	}
	if errs := s.CreateMany(cctx, []linkstore.Link{NewLink(), NewLink()}); len(errs) != 2 ||
		errs[0] == nil || errors.Is(errs[0], linkstore.ErrInvalidLink) {
		t.Errorf("CreateMany with a cancelled context: got %v, want errors that are not ErrInvalidLink", errs)
	}
}

func testConcurrentDistinctCreates(t *testing.T, s linkstore.Store) {
	ctx := t.Context()
	const workers, each = 16, 20
	links := make([]linkstore.Link, workers*each)
	for i := range links {
		links[i] = NewLink()
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(links))
	for w := range workers {
		wg.Go(func() {
			for _, l := range links[w*each : (w+1)*each] {
				if err := s.Create(ctx, l); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent Create: %v", err)
	}
	for _, want := range links {
		got, err := s.Lookup(ctx, "", want.Code)
		if err != nil {
			t.Fatalf("Lookup %q: %v", want.Code, err)
		}
		CheckLink(t, "Lookup", got, want)
	}
}

func testConcurrentSameCode(t *testing.T, s linkstore.Store) {
	ctx := t.Context()
	const workers = 16
	code := NewCode()
	candidates := make([]linkstore.Link, workers)
	for i := range candidates {
		candidates[i] = NewLink()
		candidates[i].Code = code
	}
	errs := AllAtOnce(workers, func(i int) error { return s.Create(ctx, candidates[i]) })
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("Create %d and %d both succeeded for code %q", winner, i, code)
		case err == nil:
			winner = i
		case !errors.Is(err, linkstore.ErrCodeTaken):
			t.Errorf("Create %d: got %v, want nil or ErrCodeTaken", i, err)
		}
	}
	if winner < 0 {
		t.Fatalf("no Create of %q succeeded", code)
	}
	got, err := s.Get(ctx, "", code)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	CheckLink(t, "Get winner", got, candidates[winner])
}

func testCancelledContext(t *testing.T, s linkstore.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	l := NewLink()
	if err := s.Create(ctx, l); !errors.Is(err, context.Canceled) {
		t.Errorf("Create: got %v, want context.Canceled", err)
	}
	if _, err := s.Get(ctx, "", l.Code); !errors.Is(err, context.Canceled) {
		t.Errorf("Get: got %v, want context.Canceled", err)
	}
	if _, err := s.Lookup(ctx, "", l.Code); !errors.Is(err, context.Canceled) {
		t.Errorf("Lookup: got %v, want context.Canceled", err)
	}
	if _, err := s.Delete(ctx, "", l.Code); !errors.Is(err, context.Canceled) {
		t.Errorf("Delete: got %v, want context.Canceled", err)
	}
	if err := s.Ping(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Ping: got %v, want context.Canceled", err)
	}
	// The cancelled Create stored nothing, and the store still works.
	if _, err := s.Get(t.Context(), "", l.Code); !errors.Is(err, linkstore.ErrNotFound) {
		t.Errorf("Get after cancelled Create: got %v, want ErrNotFound", err)
	}
	if err := s.Create(t.Context(), l); err != nil {
		t.Errorf("Create after cancelled calls: %v", err)
	}
}

func testPing(t *testing.T, s linkstore.Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

// asStored is l as a store returns it: its times in UTC (a zero expiry
// stays zero).
func asStored(l linkstore.Link) linkstore.Link {
	l.CreatedAt = l.CreatedAt.UTC()
	if !l.ExpiresAt.IsZero() {
		l.ExpiresAt = l.ExpiresAt.UTC()
	}
	return l
}

// CheckLink reports every field of got that differs from want. Times must
// be equal instants and in UTC; a want.WorkspaceID of 0 is the default
// workspace, as a store stores it.
func CheckLink(t testing.TB, what string, got, want linkstore.Link) {
	t.Helper()
	if got.ID != want.ID || got.Code != want.Code || got.URL != want.URL ||
		got.Status != want.Status || got.Disabled != want.Disabled {
		t.Errorf("%s: got {ID:%d Code:%q URL:%.60q Status:%d Disabled:%t}, want {ID:%d Code:%q URL:%.60q Status:%d Disabled:%t}",
			what, got.ID, got.Code, got.URL, got.Status, got.Disabled,
			want.ID, want.Code, want.URL, want.Status, want.Disabled)
	}
	if ws := workspace.Of(want.WorkspaceID); got.Domain != want.Domain || got.WorkspaceID != ws {
		t.Errorf("%s: got domain %q in workspace %d, want %q in %d", what, got.Domain, got.WorkspaceID, want.Domain, ws)
	}
	checkTime(t, what+": CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTime(t, what+": ExpiresAt", got.ExpiresAt, want.ExpiresAt)
	if !reflect.DeepEqual(got.Smart, want.Smart) {
		t.Errorf("%s: got smart options %+v, want %+v", what, got.Smart, want.Smart)
	}
	if got.ExternalID != want.ExternalID {
		t.Errorf("%s: got external ID %q, want %q", what, got.ExternalID, want.ExternalID)
	}
}

func checkTime(t testing.TB, what string, got, want time.Time) {
	t.Helper()
	switch {
	case want.IsZero() && !got.IsZero():
		t.Errorf("%s: got %v, want the zero time", what, got)
	case !got.Equal(want):
		t.Errorf("%s: got %v, want %v", what, got.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano))
	case !got.IsZero() && got.Location() != time.UTC:
		t.Errorf("%s: got location %v, want UTC", what, got.Location())
	}
}
