package clickevents

import (
	"crypto/sha256"
	"encoding/binary"
	"math/bits"
	"net/netip"
)

// VisitorHasher computes Event.Visitor: a keyed 64-bit hash of the
// client's address and user agent, so that the stats service can count
// unique visitors while the raw IP never leaves the edge. Without the key
// the hash cannot be reversed or recomputed from a guessed address (the
// IPv4 space is small enough to hash whole, so an unkeyed hash would not
// protect it).
//
// The hash is SipHash-2-4 (a keyed pseudo-random function made for short
// inputs, about 30 ns here) over the address and the first MaxUserAgent
// bytes of the user agent. IPv4 addresses count whole; IPv6 addresses by
// their /64 prefix, because clients rotate the lower half (privacy
// extensions) while a /64 is one household or device. An address with a
// zone counts without it.
//
// All edges must share the key: the same client at two edges must hash to
// the same value for unique counts to add up. Rotating the key changes
// every visitor's hash, so a visitor seen before and after the rotation
// counts twice in any period spanning it; rotate at a day boundary (UTC)
// to keep daily counts exact. Rotation is also what stops a hash from
// identifying a client for longer than the key lives.
//
// A VisitorHasher is safe for concurrent use.
type VisitorHasher struct {
	k0, k1 uint64
}

// NewVisitorHasher returns a hasher for key, which should be at least 16
// random bytes shared by all edges (any length is accepted: the SipHash
// key is the first 16 bytes of its SHA-256). An empty key makes the
// hashes recomputable by anyone; use it in tests only.
func NewVisitorHasher(key []byte) *VisitorHasher {
	sum := sha256.Sum256(key)
	return &VisitorHasher{
		k0: binary.LittleEndian.Uint64(sum[0:8]),
		k1: binary.LittleEndian.Uint64(sum[8:16]),
	}
}

// Hash returns the visitor hash of a client: never 0, which means unknown
// and is what an invalid (zero) address gives.
func (h *VisitorHasher) Hash(ip netip.Addr, userAgent string) uint64 {
	if !ip.IsValid() {
		return 0
	}
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		ip = netip.PrefixFrom(ip, 64).Masked().Addr()
	}
	var buf [16 + MaxUserAgent]byte
	a := ip.As16()
	copy(buf[:16], a[:])
	n := 16 + copy(buf[16:], userAgent)
	v := sipHash24(h.k0, h.k1, buf[:n])
	if v == 0 {
		v = 1 // 0 means unknown
	}
	return v
}

// sipHash24 is SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast
// short-input PRF", 2012) with the key k0, k1 (its two little-endian
// halves).
func sipHash24(k0, k1 uint64, m []byte) uint64 {
	v0 := k0 ^ 0x736f6d6570736575
	v1 := k1 ^ 0x646f72616e646f6d
	v2 := k0 ^ 0x6c7967656e657261
	v3 := k1 ^ 0x7465646279746573
	round := func() {
		v0 += v1
		v1 = bits.RotateLeft64(v1, 13)
		v1 ^= v0
		v0 = bits.RotateLeft64(v0, 32)
		v2 += v3
		v3 = bits.RotateLeft64(v3, 16)
		v3 ^= v2
		v0 += v3
		v3 = bits.RotateLeft64(v3, 21)
		v3 ^= v0
		v2 += v1
		v1 = bits.RotateLeft64(v1, 17)
		v1 ^= v2
		v2 = bits.RotateLeft64(v2, 32)
	}
	length := len(m)
	for len(m) >= 8 {
		w := binary.LittleEndian.Uint64(m)
		v3 ^= w
		round()
		round()
		v0 ^= w
		m = m[8:]
	}
	last := uint64(length) << 56
	for i := len(m) - 1; i >= 0; i-- {
		last |= uint64(m[i]) << (8 * i)
	}
	v3 ^= last
	round()
	round()
	v0 ^= last
	v2 ^= 0xff
	round()
	round()
	round()
	round()
	return v0 ^ v1 ^ v2 ^ v3
}
