package codegen

import (
	"bytes"
	"testing"
)

// tier6 is 62^6, the number of 6-character codes.
const tier6 = 56_800_235_584

// testKey is a fixed key, so that every run checks the same codes and a
// statistical check that passes once passes always.
var testKey = bytes.Repeat([]byte{0x5e}, KeySize)

// testCodec returns a Codec under testKey with codes of minLen or more.
func testCodec(tb testing.TB, minLen int) *Codec {
	tb.Helper()
	c, err := NewWithMinLength(testKey, minLen)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// mustCode returns c.Code(n) and fails the test on error.
func mustCode(tb testing.TB, c *Codec, n uint64) string {
	tb.Helper()
	s, err := c.Code(n)
	if err != nil {
		tb.Fatalf("Code(%d): %v", n, err)
	}
	return s
}
