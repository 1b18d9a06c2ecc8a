package storetest

import (
	"math/rand/v2"
	"testing"

	"github.com/shortify/shortify/internal/linkstore"
)

// testClaimClick: claims count up to max and no further, per link; a max
// <= 0 claims nothing; a lower max than the count claims nothing either.
func testClaimClick(t *testing.T, s linkstore.Store) {
	ctx := t.Context()
	tests := []struct {
		name   string
		maxes  []int64 // one claim per entry, in order
		want   []bool
		counts int64
	}{
		{"max 0", []int64{0, 0}, []bool{false, false}, 0},
		{"negative max", []int64{-1}, []bool{false}, 0},
		{"max 1", []int64{1, 1, 1}, []bool{true, false, false}, 1},
		{"max 3", []int64{3, 3, 3, 3}, []bool{true, true, true, false}, 3},
		{"max lowered", []int64{5, 5, 5, 2, 1}, []bool{true, true, true, false, false}, 3},
		{"max raised", []int64{1, 1, 3, 3}, []bool{true, false, true, true}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := rand.Int64()
			for i, max := range tt.maxes {
				ok, err := s.ClaimClick(ctx, id, max)
				if err != nil {
					t.Fatalf("claim %d: %v", i, err)
				}
				if ok != tt.want[i] {
					t.Errorf("claim %d (max %d): %t, want %t", i, max, ok, tt.want[i])
				}
			}
			n, err := s.CountedClicks(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if n != tt.counts {
				t.Errorf("CountedClicks: %d, want %d", n, tt.counts)
			}
		})
	}
}

// ClaimExact checks that concurrent claims through two independent store
// handles on one database (two edges) count exactly: with max 100, 400
// claims at once give exactly 100 true, and the count is 100. It also
// checks that another link's count is its own.
func ClaimExact(t *testing.T, a, b linkstore.Store) {
	ctx := t.Context()
	const max, claims = 100, 400
	id, other := rand.Int64(), rand.Int64()
	if ok, err := a.ClaimClick(ctx, other, 10); err != nil || !ok {
		t.Fatalf("claim of another link: %t, %v", ok, err)
	}
	type result struct {
		ok  bool
		err error
	}
	results := AllAtOnce(claims, func(i int) result {
		s := a
		if i%2 == 1 {
			s = b
		}
		ok, err := s.ClaimClick(ctx, id, max)
		return result{ok, err}
	})
	granted := 0
	for i, r := range results {
		if r.err != nil {
			t.Fatalf("claim %d: %v", i, r.err)
		}
		if r.ok {
			granted++
		}
	}
	if granted != max {
		t.Errorf("%d claims granted, want exactly %d", granted, max)
	}
	for name, s := range map[string]linkstore.Store{"first": a, "second": b} {
		if n, err := s.CountedClicks(ctx, id); err != nil || n != max {
			t.Errorf("CountedClicks through the %s handle: %d, %v; want %d", name, n, err, max)
		}
		if n, err := s.CountedClicks(ctx, other); err != nil || n != 1 {
			t.Errorf("CountedClicks of the other link through the %s handle: %d, %v; want 1", name, n, err)
		}
	}
}
