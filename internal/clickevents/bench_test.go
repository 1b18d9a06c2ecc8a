package clickevents

import "testing"

func BenchmarkAppendBinary(b *testing.B) {
	buf := make([]byte, 0, 2048)
	e := sample
	for b.Loop() {
		var err error
		if buf, err = e.AppendBinary(buf[:0]); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkUnmarshalBinary(b *testing.B) {
	v, err := sample.MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(v)))
	b.ReportAllocs()
	var e Event
	for b.Loop() {
		if err := e.UnmarshalBinary(v); err != nil {
			b.Fatal(err)
		}
	}
}
