// Package splitmix holds SplitMix64's finaliser, the one 64-bit mixing
// step that the stats' HyperLogLog and the smart links' split share.
package splitmix

// Mix spreads x over 64 bits: neighbouring inputs give unrelated outputs,
// and it is a bijection (no two inputs collide).
func Mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
