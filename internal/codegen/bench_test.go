package codegen

import "testing"

var (
	sinkString string
	sinkUint   uint64
)

// BenchmarkCode measures a 6-character code, the common case.
func BenchmarkCode(b *testing.B) {
	c := testCodec(b, DefaultMinLength)
	n := uint64(1_234_567_890)
	for b.Loop() {
		s, err := c.Code(n)
		if err != nil {
			b.Fatal(err)
		}
		sinkString = s
		n++
	}
}

// BenchmarkAppendCode measures the allocation-free form.
func BenchmarkAppendCode(b *testing.B) {
	c := testCodec(b, DefaultMinLength)
	buf := make([]byte, 0, MaxLength)
	n := uint64(1_234_567_890)
	for b.Loop() {
		var err error
		buf, err = c.AppendCode(buf[:0], n)
		if err != nil {
			b.Fatal(err)
		}
		n++
	}
}

// BenchmarkCodeParallel shows that the shared Codec does not serialise
// callers.
func BenchmarkCodeParallel(b *testing.B) {
	c := testCodec(b, DefaultMinLength)
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 0, MaxLength)
		n := uint64(1_234_567_890)
		for pb.Next() {
			buf, _ = c.AppendCode(buf[:0], n)
			n++
		}
	})
}

// BenchmarkSeq cycles through many codes: with few, the branch predictor
// learns how many cycle-walking passes each takes and flatters the result.
func BenchmarkSeq(b *testing.B) {
	c := testCodec(b, DefaultMinLength)
	codes := make([]string, 1<<16)
	for i := range codes {
		codes[i] = mustCode(b, c, uint64(1_234_567_890+i))
	}
	i := 0
	for b.Loop() {
		n, err := c.Seq(codes[i%len(codes)])
		if err != nil {
			b.Fatal(err)
		}
		sinkUint = n
		i++
	}
}
