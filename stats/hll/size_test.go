package hll

import "testing"

// TestMaxEncodedLen: the bound holds for empty, sparse and dense sketches.
func TestMaxEncodedLen(t *testing.T) {
	s := New()
	for i := range uint64(20_000) {
		if i&(i-1) == 0 || i%997 == 0 { // at growing sizes, sparse then dense
			b, err := s.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			if len(b) > s.MaxEncodedLen() {
				t.Fatalf("after %d hashes (dense %v): %d bytes, bound %d", i, s.dense != nil, len(b), s.MaxEncodedLen())
			}
		}
		s.Add(i * 0x9e3779b97f4a7c15)
	}
	if s.dense == nil {
		t.Fatal("never turned dense")
	}
}
