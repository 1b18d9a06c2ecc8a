// Package base62 encodes unsigned integers as Base62 strings over the
// case-sensitive alphabet [0-9A-Za-z], the character set of Shortify's
// generated short codes.
//
// Digits are most significant first, and the digit for zero is '0', so
// left-padding with '0' does not change the value: a fixed-width code such
// as "000042" decodes to the same number as "42". That is what lets codegen
// pad every code of a tier to the same length.
package base62

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	"unicode/utf8"
)

// Alphabet lists the 62 digits in order of value: '0' is 0, 'A' is 10,
// 'a' is 36, 'z' is 61. The order matches ASCII, so codes of equal length
// sort the same way as the numbers they encode.
const Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// maxDigits is the length of the longest encoding of a uint64
// (62^10 < 2^64 < 62^11).
const maxDigits = 11

// invalid marks bytes that are not digits in decodeTable.
const invalid = 0xFF

// decodeTable maps a byte to its digit value, or to invalid. A table
// indexed by byte keeps Decode branch-light and free of allocations.
var decodeTable = func() [256]byte {
	var t [256]byte
	for i := range t {
		t[i] = invalid
	}
	for i := 0; i < len(Alphabet); i++ {
		t[Alphabet[i]] = byte(i)
	}
	return t
}()

// Errors returned by Decode, always wrapped with details; test for them
// with errors.Is.
var (
	// ErrEmpty means the input had no characters.
	ErrEmpty = errors.New("base62: empty input")
	// ErrInvalidChar means the input held a character outside Alphabet.
	ErrInvalidChar = errors.New("base62: invalid character")
	// ErrOverflow means the input encodes a number larger than the
	// largest uint64.
	ErrOverflow = errors.New("base62: value overflows uint64")
)

// Encode returns n in Base62, left-padded with '0' to width characters.
// The result is longer than width when n needs more digits; a width of
// zero or less means no padding.
func Encode(n uint64, width int) string {
	// Small widths fit the stack buffer, so the string is the only
	// allocation.
	var buf [16]byte
	return string(AppendEncode(buf[:0], n, width))
}

// AppendEncode appends the Base62 encoding of n, left-padded with '0' to
// width characters, to dst and returns the extended slice, like Encode.
// It allocates only when dst has to grow.
func AppendEncode(dst []byte, n uint64, width int) []byte {
	// Digits come out least significant first; write them from the end
	// of a stack buffer so they need no reversing.
	var digits [maxDigits]byte
	i := len(digits)
	for {
		i--
		digits[i] = Alphabet[n%62]
		n /= 62
		if n == 0 {
			break
		}
	}
	for pad := width - (len(digits) - i); pad > 0; pad-- {
		dst = append(dst, '0')
	}
	return append(dst, digits[i:]...)
}

// Decode returns the number that s encodes in Base62. Leading '0's are
// allowed and ignored. The error, which wraps ErrEmpty, ErrInvalidChar or
// ErrOverflow, names the offending character and its byte offset.
func Decode(s string) (uint64, error) {
	if len(s) == 0 {
		return 0, ErrEmpty
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		d := decodeTable[s[i]]
		if d == invalid {
			return 0, invalidChar(s, i)
		}
		// n*62 + d must not exceed MaxUint64.
		if n > (math.MaxUint64-uint64(d))/62 {
			return 0, fmt.Errorf("%w: %d-character input passes %d at offset %d",
				ErrOverflow, len(s), uint64(math.MaxUint64), i)
		}
		n = n*62 + uint64(d)
	}
	return n, nil
}

// invalidChar builds the error for the bad byte at s[i]. It reports the
// whole character when the byte starts valid UTF-8, since that is what a
// person sees, and the raw byte otherwise. It is kept out of Decode so that
// the loop stays small.
func invalidChar(s string, i int) error {
	r, size := utf8.DecodeRuneInString(s[i:])
	if r == utf8.RuneError && size <= 1 {
		return fmt.Errorf("%w: byte %#02x at offset %d", ErrInvalidChar, s[i], i)
	}
	return fmt.Errorf("%w: %q at offset %d", ErrInvalidChar, r, i)
}

// Random draws n uniform Base62 characters from crypto/rand (rejection
// sampling, so no character is likelier than another): the random part of
// API keys and webhook endpoint IDs.
func Random(n int) string {
	out := make([]byte, 0, n)
	buf := make([]byte, n*2)
	for len(out) < n {
		rand.Read(buf) // never fails (crypto/rand since Go 1.24)
		for _, b := range buf {
			if b < 248 && len(out) < n { // 248 = 4 × 62
				out = append(out, Alphabet[b%62])
			}
		}
	}
	return string(out)
}
