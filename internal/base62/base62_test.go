package base62

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestEncode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		n     uint64
		width int
		want  string
	}{
		{0, 0, "0"},
		{0, -3, "0"},
		{0, 1, "0"},
		{0, 6, "000000"},
		{9, 0, "9"},
		{10, 0, "A"},
		{35, 0, "Z"},
		{36, 0, "a"},
		{61, 0, "z"},
		{62, 0, "10"},
		{62, 6, "000010"},
		{3843, 2, "zz"},
		{3844, 2, "100"},
		{56800235583, 6, "zzzzzz"},  // 62^6 - 1: the last 6-character code
		{56800235584, 6, "1000000"}, // 62^6 outgrows the width
		{math.MaxUint64, 0, "LygHa16AHYF"},
		{math.MaxUint64, 12, "0LygHa16AHYF"},
	}
	for _, tt := range tests {
		if got := Encode(tt.n, tt.width); got != tt.want {
			t.Errorf("Encode(%d, %d) = %q, want %q", tt.n, tt.width, got, tt.want)
		}
	}
}

// TestAppendEncode is not parallel: testing.AllocsPerRun refuses to run
// beside other tests, whose allocations it would count.
func TestAppendEncode(t *testing.T) {
	dst := []byte("id=")
	got := AppendEncode(dst, 62, 4)
	if string(got) != "id=0010" {
		t.Fatalf("AppendEncode = %q, want %q", got, "id=0010")
	}

	// Appending into a buffer with room must not allocate.
	buf := make([]byte, 0, 32)
	allocs := testing.AllocsPerRun(100, func() {
		buf = AppendEncode(buf[:0], math.MaxUint64, 20)
	})
	if allocs != 0 {
		t.Errorf("AppendEncode into a large enough buffer: %v allocations, want 0", allocs)
	}
}

func TestDecode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		s       string
		want    uint64
		wantErr error
		errText string // a substring the message must hold
	}{
		{s: "0", want: 0},
		{s: "000000", want: 0},
		{s: "z", want: 61},
		{s: "10", want: 62},
		{s: "000010", want: 62},
		{s: "zzzzzz", want: 56800235583},
		{s: "LygHa16AHYF", want: math.MaxUint64},
		{s: "00000000000000000000LygHa16AHYF", want: math.MaxUint64},
		{s: "aZ", want: 36*62 + 35}, // case matters
		{s: "Za", want: 35*62 + 36},

		{s: "", wantErr: ErrEmpty},
		{s: "abc-def", wantErr: ErrInvalidChar, errText: `'-' at offset 3`},
		{s: " abc", wantErr: ErrInvalidChar, errText: `' ' at offset 0`},
		{s: "abc\n", wantErr: ErrInvalidChar, errText: `'\n' at offset 3`},
		{s: "ab\x00", wantErr: ErrInvalidChar, errText: `'\x00' at offset 2`},
		{s: "abcé", wantErr: ErrInvalidChar, errText: `'é' at offset 3`},
		{s: "ab\xff", wantErr: ErrInvalidChar, errText: `byte 0xff at offset 2`},
		{s: "LygHa16AHYG", wantErr: ErrOverflow, errText: "offset 10"}, // MaxUint64 + 1
		{s: "zzzzzzzzzzz", wantErr: ErrOverflow},
		{s: "100000000000", wantErr: ErrOverflow}, // 62^11
		{s: strings.Repeat("1", 100), wantErr: ErrOverflow},
	}
	for _, tt := range tests {
		got, err := Decode(tt.s)
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Decode(%q) error = %v, want %v", tt.s, err, tt.wantErr)
			} else if !strings.Contains(err.Error(), tt.errText) {
				t.Errorf("Decode(%q) error = %q, want it to mention %q", tt.s, err, tt.errText)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Decode(%q) = %d, %v, want %d, nil", tt.s, got, err, tt.want)
		}
	}
}

// TestRoundTrip checks Decode(Encode(n)) == n near every power of 62, where
// carries and digit counts change, and over a spread of other values.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	var ns []uint64
	for p := uint64(1); ; p *= 62 {
		ns = append(ns, p-1, p, p+1)
		if p > math.MaxUint64/62 {
			break
		}
	}
	// A multiplicative sequence reaches every magnitude.
	for n := uint64(1); n < math.MaxUint64/3; n = n*3 + 1 {
		ns = append(ns, n)
	}
	ns = append(ns, math.MaxUint64-1, math.MaxUint64)

	for _, n := range ns {
		for _, width := range []int{0, 6, 12} {
			s := Encode(n, width)
			if len(s) < width {
				t.Errorf("Encode(%d, %d) = %q, shorter than the width", n, width, s)
			}
			got, err := Decode(s)
			if err != nil || got != n {
				t.Errorf("Decode(Encode(%d, %d) = %q) = %d, %v", n, width, s, got, err)
			}
		}
	}
}

// TestOrder checks that equal-length encodings sort like their values,
// which the Alphabet's ASCII order promises.
func TestOrder(t *testing.T) {
	t.Parallel()
	prev := Encode(0, 3)
	for n := uint64(1); n < 62*62*62; n += 97 {
		s := Encode(n, 3)
		if s <= prev {
			t.Fatalf("Encode(%d, 3) = %q does not sort after %q", n, s, prev)
		}
		prev = s
	}
}

// FuzzDecode checks that Decode never panics and that whatever it accepts
// re-encodes to the input: Encode pads with '0' to the input's length, so
// leading zeros come back too.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{"", "0", "zzzzzz", "000abc", "LygHa16AHYF", "LygHa16AHYG", "a-b", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Decode(s)
		if err != nil {
			if !errors.Is(err, ErrEmpty) && !errors.Is(err, ErrInvalidChar) && !errors.Is(err, ErrOverflow) {
				t.Fatalf("Decode(%q) error %v wraps no sentinel", s, err)
			}
			return
		}
		if got := Encode(n, len(s)); got != s {
			t.Fatalf("Decode(%q) = %d, which encodes as %q", s, n, got)
		}
	})
}

var (
	sinkString string
	sinkUint   uint64
)

func BenchmarkEncode(b *testing.B) {
	n := uint64(31_415_926_535) // a 6-character code
	for b.Loop() {
		sinkString = Encode(n, 6)
	}
}

func BenchmarkAppendEncode(b *testing.B) {
	buf := make([]byte, 0, 16)
	n := uint64(31_415_926_535)
	for b.Loop() {
		buf = AppendEncode(buf[:0], n, 6)
	}
	sinkString = string(buf)
}

func BenchmarkDecode(b *testing.B) {
	for _, s := range []string{"YIplgR", "LygHa16AHYF"} {
		b.Run(s, func(b *testing.B) {
			for b.Loop() {
				n, err := Decode(s)
				if err != nil {
					b.Fatal(err)
				}
				sinkUint = n
			}
		})
	}
}
