// Package codegen maps sequence numbers to short codes and back.
//
// The control plane hands each creating node disjoint blocks of one global
// sequence; a node turns each number it owns into a code with a Codec. The
// mapping is a bijection, so codes are unique by construction: no database
// round trip and no collision check. It is keyed, so a code says nothing
// about the codes issued before or after it.
//
// Numbers are split into tiers by code length. With the default minimum
// length of 6, the first 62^6 numbers get 6-character codes, the next 62^7
// get 7-character codes, and so on up to MaxLength. Inside a tier of length
// k the number's offset goes through a keyed pseudorandom permutation of
// [0, 62^k) and is written in Base62, left-padded to k characters. Every
// string of k Base62 characters is therefore the code of exactly one
// number, which is what makes Seq an exact inverse. It also means that a
// custom alias of 6 to MaxLength Base62 characters is some future number's
// code: whoever accepts aliases must keep them out of that space, or the
// creating node must skip the number whose code is taken.
//
// The permutation is a balanced Feistel network over the smallest even
// number of bits that covers 62^k, with cycle-walking to stay inside
// [0, 62^k); its round function is AES-128 under a key of the tier's own,
// derived from the Codec's key with HKDF-SHA256. This is the shape of
// format-preserving encryption (NIST SP 800-38G: FF1 and FF3-1 are Feistel
// networks over AES).
package codegen

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"sync"

	"github.com/shortify/shortify/internal/base62"
)

// KeySize is the length in bytes of a Codec key.
const KeySize = 32

// DefaultMinLength is the length of the shortest codes New makes.
const DefaultMinLength = 6

// MaxLength is the length of the longest codes: 62^10 is the largest power
// of 62 below 2^63, and the sum of all tiers still fits a uint64.
const MaxLength = 10

// rounds is the number of Feistel rounds. Luby and Rackoff need only four
// for a strong pseudorandom permutation, but their bound is weak for the
// small halves of short tiers (18 bits each for length 6), and more rounds
// bring the generic attacks closer to their limit; FF3-1 uses eight, and so
// do we. Each round is one AES block (about 15 to 40 ns), so rounds are most
// of the cost of a code: FF1's ten would cost a quarter more.
//
// Changing this changes every code: see TestGolden.
const rounds = 8

// Errors, wrapped with details where there are any; test for them with
// errors.Is.
var (
	// ErrInvalidKey means a key is not KeySize bytes long.
	ErrInvalidKey = errors.New("codegen: invalid key")
	// ErrInvalidMinLength means a minimum code length outside 1..MaxLength.
	ErrInvalidMinLength = errors.New("codegen: invalid minimum length")
	// ErrExhausted means a sequence number lies beyond the last tier: every
	// code up to MaxLength characters has been given out.
	ErrExhausted = errors.New("codegen: sequence numbers exhausted")
	// ErrInvalidCode means a string is not a code this Codec can make:
	// wrong length, or characters outside Base62. When the characters are
	// at fault the error also wraps base62.ErrInvalidChar.
	ErrInvalidCode = errors.New("codegen: invalid code")
)

// NewKey returns a fresh random key. A cluster makes its key once, when it
// is created, and keeps it for ever: under a different key new numbers
// would map onto codes already issued.
func NewKey() ([]byte, error) {
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("codegen: new key: %w", err)
	}
	return key, nil
}

// Codec maps sequence numbers to codes (Code) and codes to sequence numbers
// (Seq). It is immutable once made and safe for concurrent use.
type Codec struct {
	minLen int
	tiers  []tier // tiers[i] makes codes of length minLen+i
	total  uint64 // number of sequence numbers, the sum of tier sizes
}

// tier is the permutation for codes of one length.
type tier struct {
	length   int
	start    uint64       // first sequence number of the tier
	size     uint64       // 62^length: the tier's numbers and its codes
	halfBits uint         // bits in each Feistel half
	halfMask uint64       // 1<<halfBits - 1
	block    cipher.Block // AES-128 under the tier's own key
}

// New returns a Codec for key, which must be KeySize bytes, making codes of
// DefaultMinLength characters or more. It does not keep key.
func New(key []byte) (*Codec, error) {
	return NewWithMinLength(key, DefaultMinLength)
}

// NewWithMinLength is New with codes of minLen (1 to MaxLength) characters
// or more. Production uses New; small minimum lengths let tests walk whole
// tiers. The permutation of a tier depends only on the key and the tier's
// length, so the minimum length shifts which numbers fall in a tier but
// not how a tier scrambles them.
func NewWithMinLength(key []byte, minLen int) (*Codec, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrInvalidKey, len(key), KeySize)
	}
	if minLen < 1 || minLen > MaxLength {
		return nil, fmt.Errorf("%w: %d, want 1 to %d", ErrInvalidMinLength, minLen, MaxLength)
	}
	c := &Codec{minLen: minLen, tiers: make([]tier, 0, MaxLength-minLen+1)}
	size := pow62(minLen)
	for length := minLen; length <= MaxLength; length++ {
		block, err := tierCipher(key, length)
		if err != nil {
			return nil, err
		}
		// The Feistel network needs two halves of equal width, so its
		// domain is the smallest even number of bits covering the tier:
		// 1.03 (length 1) to 1.37 (length 10) times the tier, 1.21 for
		// length 6. That ratio is the mean number of passes cycle-walking
		// takes.
		width := uint(bits.Len64(size - 1))
		width += width & 1
		c.tiers = append(c.tiers, tier{
			length:   length,
			start:    c.total,
			size:     size,
			halfBits: width / 2,
			halfMask: 1<<(width/2) - 1,
			block:    block,
		})
		c.total += size
		size *= 62
	}
	return c, nil
}

// tierCipher derives the AES-128 key for the tier of codes of the given
// length. HKDF with the length in its info string gives each tier an
// independent key, so knowing codes of one length tells nothing about
// another.
func tierCipher(key []byte, length int) (cipher.Block, error) {
	info := "shortify codegen v1 tier " + strconv.Itoa(length)
	tierKey, err := hkdf.Key(sha256.New, key, nil, info, 16)
	if err != nil {
		return nil, fmt.Errorf("codegen: derive key for length %d: %w", length, err)
	}
	return aes.NewCipher(tierKey)
}

// pow62 returns 62^k for k <= MaxLength.
func pow62(k int) uint64 {
	p := uint64(1)
	for range k {
		p *= 62
	}
	return p
}

// Length returns the length of the code for sequence number n, or 0 when n
// lies beyond the last tier.
func (c *Codec) Length(n uint64) int {
	if t, _ := c.locate(n); t != nil {
		return t.length
	}
	return 0
}

// locate returns the tier of sequence number n and n's offset inside it,
// or nil when n lies beyond the last tier.
func (c *Codec) locate(n uint64) (*tier, uint64) {
	for i := range c.tiers {
		t := &c.tiers[i]
		if n < t.size {
			return t, n
		}
		n -= t.size
	}
	return nil, 0
}

// Code returns the code for sequence number n, or an error wrapping
// ErrExhausted when n lies beyond the last tier.
func (c *Codec) Code(n uint64) (string, error) {
	var buf [MaxLength]byte
	b, err := c.AppendCode(buf[:0], n)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// AppendCode appends the code for sequence number n to dst and returns the
// extended slice, like Code. On error it returns dst unchanged.
func (c *Codec) AppendCode(dst []byte, n uint64) ([]byte, error) {
	t, x := c.locate(n)
	if t == nil {
		return dst, fmt.Errorf("%w: %d is past the last number, %d", ErrExhausted, n, c.total-1)
	}
	scratch := getScratch()
	v := t.permute(x, scratch)
	putScratch(scratch)
	return base62.AppendEncode(dst, v, t.length), nil
}

// Seq returns the sequence number whose code is code: the inverse of Code.
// The error wraps ErrInvalidCode when code has a length outside
// [minimum length, MaxLength] or a character outside base62.Alphabet.
func (c *Codec) Seq(code string) (uint64, error) {
	if len(code) < c.minLen || len(code) > MaxLength {
		return 0, fmt.Errorf("%w: %d characters, want %d to %d",
			ErrInvalidCode, len(code), c.minLen, MaxLength)
	}
	// At most MaxLength Base62 digits cannot overflow, and k digits
	// always decode below 62^k: any well-formed string is in its tier.
	v, err := base62.Decode(code)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrInvalidCode, err)
	}
	t := &c.tiers[len(code)-c.minLen]
	scratch := getScratch()
	x := t.unpermute(v, scratch)
	putScratch(scratch)
	return t.start + x, nil
}

// permute maps x in [0, size) to its image under the tier's permutation.
// The Feistel network permutes the wider power-of-two domain; applying it
// again until the value falls back inside [0, size) (cycle-walking) gives
// a permutation of [0, size): following x's cycle in the wider permutation
// must come back into [0, size), at x itself at the latest.
func (t *tier) permute(x uint64, scratch *[aes.BlockSize]byte) uint64 {
	for {
		x = t.feistel(x, scratch)
		if x < t.size {
			return x
		}
	}
}

// unpermute is the inverse of permute: it walks the same cycle backwards.
func (t *tier) unpermute(x uint64, scratch *[aes.BlockSize]byte) uint64 {
	for {
		x = t.feistelInverse(x, scratch)
		if x < t.size {
			return x
		}
	}
}

// feistel applies the network: each round maps (L, R) to (R, L ^ F(R)).
func (t *tier) feistel(x uint64, scratch *[aes.BlockSize]byte) uint64 {
	l, r := x>>t.halfBits, x&t.halfMask
	for i := range rounds {
		l, r = r, l^t.round(i, r, scratch)
	}
	return l<<t.halfBits | r
}

// feistelInverse undoes feistel, running the rounds backwards: from
// (L', R') = (R, L ^ F(R)) it recovers R = L' and L = R' ^ F(L').
func (t *tier) feistelInverse(x uint64, scratch *[aes.BlockSize]byte) uint64 {
	l, r := x>>t.halfBits, x&t.halfMask
	for i := rounds - 1; i >= 0; i-- {
		l, r = r^t.round(i, l, scratch), l
	}
	return l<<t.halfBits | r
}

// round is the round function F: AES-128 under the tier's key of the block
// (length, round, half), cut to the half's width. The tier's key separates
// tiers and the round number separates rounds, so every round of every
// tier is an independent pseudorandom function of the half.
func (t *tier) round(i int, half uint64, b *[aes.BlockSize]byte) uint64 {
	*b = [aes.BlockSize]byte{0: byte(t.length), 1: byte(i)}
	binary.BigEndian.PutUint64(b[8:], half)
	t.block.Encrypt(b[:], b[:])
	return binary.BigEndian.Uint64(b[:8]) & t.halfMask
}

// scratchPool holds AES blocks. A buffer passed to cipher.Block escapes to
// the heap, since the compiler cannot see through the interface, so a
// local array would cost an allocation per code; a pooled one costs none.
var scratchPool = sync.Pool{New: func() any { return new([aes.BlockSize]byte) }}

func getScratch() *[aes.BlockSize]byte  { return scratchPool.Get().(*[aes.BlockSize]byte) }
func putScratch(b *[aes.BlockSize]byte) { scratchPool.Put(b) }
