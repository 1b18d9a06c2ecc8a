package codegen

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/shortify/shortify/internal/base62"
)

func TestNewKey(t *testing.T) {
	t.Parallel()
	a, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewKey()
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != KeySize || len(b) != KeySize {
		t.Fatalf("NewKey lengths %d, %d, want %d", len(a), len(b), KeySize)
	}
	if bytes.Equal(a, b) {
		t.Fatal("two calls of NewKey returned the same key")
	}
	if _, err := New(a); err != nil {
		t.Fatalf("New(NewKey()): %v", err)
	}
}

func TestNewErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		key    []byte
		minLen int
		want   error
	}{
		{"nil key", nil, 6, ErrInvalidKey},
		{"AES-128 sized key", make([]byte, 16), 6, ErrInvalidKey},
		{"short key", make([]byte, KeySize-1), 6, ErrInvalidKey},
		{"long key", make([]byte, KeySize+1), 6, ErrInvalidKey},
		{"zero length", testKey, 0, ErrInvalidMinLength},
		{"negative length", testKey, -1, ErrInvalidMinLength},
		{"length past MaxLength", testKey, MaxLength + 1, ErrInvalidMinLength},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewWithMinLength(tt.key, tt.minLen)
			if !errors.Is(err, tt.want) || c != nil {
				t.Fatalf("NewWithMinLength = %v, %v, want nil, %v", c, err, tt.want)
			}
		})
	}
	for _, minLen := range []int{1, MaxLength} {
		if _, err := NewWithMinLength(testKey, minLen); err != nil {
			t.Errorf("NewWithMinLength(key, %d): %v", minLen, err)
		}
	}
}

// TestGolden pins the mapping. Codes are stored and linked to for ever and
// the key never changes, so any change to the construction (rounds, key
// derivation, round-function input, padding) would map new numbers onto
// codes already issued. If this test fails, the change is the bug. The
// values were checked against a separate implementation of the
// construction (HKDF-SHA256, AES-128, eight Feistel rounds, cycle-walking)
// written from the package comment.
func TestGolden(t *testing.T) {
	t.Parallel()
	c := testCodec(t, DefaultMinLength)
	tests := []struct {
		n    uint64
		want string
	}{
		{0, "6oybws"},
		{1, "0MdtoX"},
		{2, "fVOap8"},
		{1_000_000, "lo3bIF"},
		{tier6 - 1, "DAJq6v"},
		{tier6, "bf7eAtQ"},
		{tier6 + 1, "S2uj3gA"},
		{c.total - 1, "Nf015ji3eC"},
	}
	for _, tt := range tests {
		if got := mustCode(t, c, tt.n); got != tt.want {
			t.Errorf("Code(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

// TestTiers checks where code lengths change and where numbers run out.
func TestTiers(t *testing.T) {
	t.Parallel()
	for _, minLen := range []int{1, 3, DefaultMinLength, MaxLength} {
		c := testCodec(t, minLen)
		first := uint64(0)
		for length := minLen; length <= MaxLength; length++ {
			last := first + pow62(length) - 1
			for _, n := range []uint64{first, first + 1, last - 1, last} {
				code := mustCode(t, c, n)
				if len(code) != length || c.Length(n) != length {
					t.Errorf("minLen %d: Code(%d) = %q, Length = %d, want length %d",
						minLen, n, code, c.Length(n), length)
				}
				if got, err := c.Seq(code); err != nil || got != n {
					t.Errorf("minLen %d: Seq(%q) = %d, %v, want %d", minLen, code, got, err, n)
				}
			}
			first = last + 1
		}
		// first is now one past the last number.
		if first != c.total {
			t.Fatalf("minLen %d: tiers end at %d, total is %d", minLen, first, c.total)
		}
		for _, n := range []uint64{first, first + 1, ^uint64(0)} {
			if code, err := c.Code(n); !errors.Is(err, ErrExhausted) || code != "" {
				t.Errorf("minLen %d: Code(%d) = %q, %v, want ErrExhausted", minLen, n, code, err)
			}
			dst := []byte("keep")
			if got, err := c.AppendCode(dst, n); !errors.Is(err, ErrExhausted) || string(got) != "keep" {
				t.Errorf("minLen %d: AppendCode(%d) = %q, %v, want dst unchanged, ErrExhausted",
					minLen, n, got, err)
			}
			if l := c.Length(n); l != 0 {
				t.Errorf("minLen %d: Length(%d) = %d, want 0", minLen, n, l)
			}
		}
	}
}

// TestBijectionSmallTiers walks whole tiers: every number of the tier of
// length k (k = 1, 2, 3) gets a distinct code of length k, and Seq gives
// the number back. Together with the domain sizes this proves the tier is a
// permutation of all k-character strings.
func TestBijectionSmallTiers(t *testing.T) {
	t.Parallel()
	for k := 1; k <= 3; k++ {
		c := testCodec(t, k)
		size := pow62(k)
		seen := make([]bool, size)
		buf := make([]byte, 0, MaxLength)
		for n := range size {
			var err error
			buf, err = c.AppendCode(buf[:0], n)
			if err != nil {
				t.Fatalf("k=%d: AppendCode(%d): %v", k, n, err)
			}
			if len(buf) != k {
				t.Fatalf("k=%d: code %q for %d has the wrong length", k, buf, n)
			}
			v, err := base62.Decode(string(buf))
			if err != nil || v >= size {
				t.Fatalf("k=%d: code %q for %d decodes to %d, %v", k, buf, n, v, err)
			}
			if seen[v] {
				t.Fatalf("k=%d: code %q given twice (second time for %d)", k, buf, n)
			}
			seen[v] = true
			if got, err := c.Seq(string(buf)); err != nil || got != n {
				t.Fatalf("k=%d: Seq(%q) = %d, %v, want %d", k, buf, got, err, n)
			}
		}
		// The permutation is not the identity in disguise.
		fixed := 0
		for n := range size {
			if v, _ := base62.Decode(mustCode(t, c, n)); v == n {
				fixed++
			}
		}
		if fixed > 3+int(size/1000) {
			t.Errorf("k=%d: %d of %d numbers map to themselves", k, fixed, size)
		}
	}
}

// TestDistinctRuns generates long runs of consecutive numbers, as a node
// working through its blocks does, and checks that no code repeats.
func TestDistinctRuns(t *testing.T) {
	// Not parallel: it holds 80 MB and keeps every core busy by itself.
	// -short cuts the runs to a million numbers each.
	count := uint64(10_000_000)
	if testing.Short() {
		count = 1_000_000
	}
	c := testCodec(t, DefaultMinLength)
	keys := make([]uint64, count)
	for _, start := range []uint64{0, tier6 - count/2} {
		fillKeys(t, c, start, keys)
		slices.Sort(keys)
		for i := 1; i < len(keys); i++ {
			if keys[i] == keys[i-1] {
				t.Fatalf("run from %d: a code repeats (key %d)", start, keys[i])
			}
		}
	}
}

// fillKeys sets keys[i] to a number standing for Code(start+i) of a Codec
// with the default minimum length: the code's Base62 value, plus 62^6 for
// 7-character codes so that codes of different lengths get different
// keys. It checks each code's length (numbers from 62^6 on get 7
// characters; the runs stay far below 62^6 + 62^7) and splits the work
// over the available cores.
func fillKeys(t *testing.T, c *Codec, start uint64, keys []uint64) {
	t.Helper()
	workers := runtime.GOMAXPROCS(0)
	chunk := (len(keys) + workers - 1) / workers
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := min(w*chunk, len(keys)), min((w+1)*chunk, len(keys))
		wg.Go(func() {
			buf := make([]byte, 0, MaxLength)
			for i := lo; i < hi; i++ {
				n := start + uint64(i)
				var err error
				if buf, err = c.AppendCode(buf[:0], n); err != nil {
					errs[w] = err
					return
				}
				length, offset := 6, uint64(0)
				if n >= tier6 {
					length, offset = 7, tier6
				}
				if len(buf) != length {
					errs[w] = fmt.Errorf("Code(%d) = %q, want length %d", n, buf, length)
					return
				}
				v, err := base62.Decode(string(buf))
				if err != nil {
					errs[w] = err
					return
				}
				keys[i] = offset + v
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

// TestAdjacentUnrelated checks that consecutive numbers give codes that
// look independent: the share of positions where Code(n) and Code(n+1)
// hold the same character is close to 1/62, as for random strings, and
// every character is about equally common at every position. The key is
// fixed, so the outcome is too: the bounds (five standard deviations) only
// say how far from random the codes may look.
func TestAdjacentUnrelated(t *testing.T) {
	t.Parallel()
	const pairs = 124_000 // a multiple of 62, for the uniformity check
	c := testCodec(t, DefaultMinLength)
	for _, start := range []uint64{0, 987_654_321} {
		var counts [DefaultMinLength][62]int
		same := 0
		prev := mustCode(t, c, start)
		for n := start + 1; n <= start+pairs; n++ {
			code := mustCode(t, c, n)
			for i := range DefaultMinLength {
				if code[i] == prev[i] {
					same++
				}
				counts[i][strings.IndexByte(base62.Alphabet, code[i])]++
			}
			prev = code
		}
		checkShare(t, "adjacent codes", same, pairs*DefaultMinLength)

		// Pearson's chi-squared with 61 degrees of freedom: mean 61,
		// standard deviation 11.
		const want = pairs / 62
		for i, row := range counts {
			chi2 := 0.0
			for _, got := range row {
				d := float64(got - want)
				chi2 += d * d / want
			}
			if chi2 > 61+5*11 {
				t.Errorf("start %d: characters at position %d far from uniform: chi² = %.1f",
					start, i, chi2)
			}
		}
	}
}

// TestKeyMatters checks that another key gives unrelated codes.
func TestKeyMatters(t *testing.T) {
	t.Parallel()
	c1 := testCodec(t, DefaultMinLength)
	other := bytes.Clone(testKey)
	other[KeySize-1] ^= 1 // one bit
	c2, err := New(other)
	if err != nil {
		t.Fatal(err)
	}
	const n = 100_000
	same, equalCodes := 0, 0
	for i := range uint64(n) {
		a, b := mustCode(t, c1, i), mustCode(t, c2, i)
		if a == b {
			equalCodes++
		}
		for j := range a {
			if a[j] == b[j] {
				same++
			}
		}
	}
	if equalCodes > 0 {
		t.Errorf("%d of %d numbers got the same code under both keys", equalCodes, n)
	}
	checkShare(t, "codes under two keys", same, n*DefaultMinLength)
}

// checkShare fails unless same out of total comparisons of random
// characters matching is within five standard deviations of 1/62.
func checkShare(t *testing.T, what string, same, total int) {
	t.Helper()
	p := 1.0 / 62
	sd := math.Sqrt(p * (1 - p) / float64(total))
	share := float64(same) / float64(total)
	if math.Abs(share-p) > 5*sd {
		t.Errorf("%s: same character at the same position %.5f of the time, want %.5f ± %.5f",
			what, share, p, 5*sd)
	}
}

// TestRoundTripAllTiers checks Seq(Code(n)) == n for numbers drawn across
// all tiers, each equally likely, with a fixed seed.
func TestRoundTripAllTiers(t *testing.T) {
	t.Parallel()
	c := testCodec(t, DefaultMinLength)
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20_000 {
		tr := &c.tiers[rng.IntN(len(c.tiers))]
		n := tr.start + rng.Uint64N(tr.size)
		code := mustCode(t, c, n)
		if len(code) != tr.length {
			t.Fatalf("Code(%d) = %q, want length %d", n, code, tr.length)
		}
		if got, err := c.Seq(code); err != nil || got != n {
			t.Fatalf("Seq(Code(%d) = %q) = %d, %v", n, code, got, err)
		}
	}
}

func TestSeqErrors(t *testing.T) {
	t.Parallel()
	c := testCodec(t, DefaultMinLength)
	tests := []struct {
		code string
		also error // a second sentinel the error wraps, if any
	}{
		{"", nil},
		{"abc", nil},
		{"abcde", nil},       // one short
		{"abcdefghijk", nil}, // one long
		{"abc-de", base62.ErrInvalidChar},
		{"abc_de", base62.ErrInvalidChar},
		{"abcdé", base62.ErrInvalidChar}, // six bytes
		{" abcde", base62.ErrInvalidChar},
		{"abcde\n", base62.ErrInvalidChar},
		{"abcde\x00", base62.ErrInvalidChar},
		{strings.Repeat("z", 1000), nil},
	}
	for _, tt := range tests {
		n, err := c.Seq(tt.code)
		if !errors.Is(err, ErrInvalidCode) || n != 0 {
			t.Errorf("Seq(%q) = %d, %v, want 0, ErrInvalidCode", tt.code, n, err)
		}
		if tt.also != nil && !errors.Is(err, tt.also) {
			t.Errorf("Seq(%q) error %v does not wrap %v", tt.code, err, tt.also)
		}
	}
	// Codes shorter than the minimum are not codes of this Codec, even if
	// a Codec with a smaller minimum made them.
	short := mustCode(t, testCodec(t, 5), 0)
	if _, err := c.Seq(short); !errors.Is(err, ErrInvalidCode) {
		t.Errorf("Seq(%q) of a 5-character code: %v, want ErrInvalidCode", short, err)
	}
}

// TestConcurrent runs one Codec from several goroutines (meant for -race)
// and compares with sequential results.
func TestConcurrent(t *testing.T) {
	t.Parallel()
	c := testCodec(t, DefaultMinLength)
	want := make([]string, 2000)
	for i := range want {
		want[i] = mustCode(t, c, uint64(i))
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range want {
				j := (i + g*250) % len(want)
				got, err := c.Code(uint64(j))
				if err != nil || got != want[j] {
					t.Errorf("Code(%d) = %q, %v, want %q", j, got, err, want[j])
					return
				}
				if n, err := c.Seq(got); err != nil || n != uint64(j) {
					t.Errorf("Seq(%q) = %d, %v, want %d", got, n, err, j)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestAllocs(t *testing.T) {
	c := testCodec(t, DefaultMinLength)
	buf := make([]byte, 0, MaxLength)
	n := uint64(42)
	if a := testing.AllocsPerRun(1000, func() { buf, _ = c.AppendCode(buf[:0], n); n++ }); a != 0 {
		t.Errorf("AppendCode: %v allocations, want 0", a)
	}
	if a := testing.AllocsPerRun(1000, func() { sinkString, _ = c.Code(n); n++ }); a != 1 {
		t.Errorf("Code: %v allocations, want 1 (the string)", a)
	}
	code := mustCode(t, c, 42)
	if a := testing.AllocsPerRun(1000, func() { sinkUint, _ = c.Seq(code) }); a != 0 {
		t.Errorf("Seq: %v allocations, want 0", a)
	}
}

// FuzzSeq checks that Seq never panics, that it only fails with
// ErrInvalidCode, and that whatever it accepts is the code of the number
// it returns.
func FuzzSeq(f *testing.F) {
	for _, s := range []string{"", "0", "zz", "000000", "zzzzzz", "0000000", "zzzzzzzzzz", "abc-de", "zzzzzzzzzzz", "é"} {
		f.Add(s)
	}
	codecs := []*Codec{testCodec(f, 1), testCodec(f, DefaultMinLength)}
	f.Fuzz(func(t *testing.T, code string) {
		for _, c := range codecs {
			n, err := c.Seq(code)
			if err != nil {
				if !errors.Is(err, ErrInvalidCode) {
					t.Fatalf("minLen %d: Seq(%q) error %v does not wrap ErrInvalidCode", c.minLen, code, err)
				}
				continue
			}
			if got := mustCode(t, c, n); got != code {
				t.Fatalf("minLen %d: Seq(%q) = %d, whose code is %q", c.minLen, code, n, got)
			}
		}
	})
}
