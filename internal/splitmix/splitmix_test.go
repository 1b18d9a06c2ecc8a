package splitmix

import "testing"

// SplitMix64's published outputs for the seed 0: the generator adds
// 0x9e3779b97f4a7c15 to its state, then mixes.
func TestMixMatchesSplitMix64(t *testing.T) {
	const gamma = 0x9e3779b97f4a7c15
	want := []uint64{0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4, 0x06c45d188009454f}
	var state uint64
	for i, w := range want {
		state += gamma
		if got := Mix(state); got != w {
			t.Errorf("output %d: %#x, want %#x", i, got, w)
		}
	}
}
