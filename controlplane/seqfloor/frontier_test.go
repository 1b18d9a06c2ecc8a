package seqfloor

import "testing"

func TestFrontier(t *testing.T) {
	tests := []struct {
		name     string
		next     uint64
		seqs     []uint64
		want     uint64
		wantKept int
	}{
		{"none", 1000, nil, 1000, 0},
		{"dense", 1000, []uint64{1002, 1000, 1001}, 1003, 3},
		{"below next ignored", 1000, []uint64{5, 999}, 1000, 0},
		{"block gaps bridged", 1000, []uint64{1000, 1000 + MaxGap, 1000 + 2*MaxGap}, 1001 + 2*MaxGap, 3},
		{"an alias far out left", 1000, []uint64{1000, 1001, 40_000_000_000}, 1002, 2},
		{"first number past a gap", 1000, []uint64{1001 + MaxGap}, 1000, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, kept := Frontier(tt.next, tt.seqs)
			if got != tt.want || kept != tt.wantKept {
				t.Errorf("Frontier = %d, %d kept; want %d, %d", got, kept, tt.want, tt.wantKept)
			}
		})
	}
}
