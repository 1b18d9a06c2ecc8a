package linkevents

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// BenchmarkSize reports the size of a typical update event alone and per
// event in a zstd-compressed batch of 100 (what the producer sends), the
// figures behind "Why JSON" in the package documentation.
func BenchmarkSize(b *testing.B) {
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		b.Fatal(err)
	}
	defer enc.Close()
	// Random codes, IDs and URL paths, as real links have: compression
	// gains only on what events really share.
	rng := rand.New(rand.NewPCG(1, 2))
	word := func(n int) string {
		const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		w := make([]byte, n)
		for i := range w {
			w[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(w)
	}
	var batch bytes.Buffer
	var one int
	for range 100 {
		l := link
		l.Code = word(6)
		l.ID = rng.Int64()
		l.URL = fmt.Sprintf("https://%s.example.com/%s/%s?id=%s", word(8), word(10), word(14), word(12))
		v, err := Encode(NewUpdated(l, at))
		if err != nil {
			b.Fatal(err)
		}
		one = len(v)
		batch.Write(v)
	}
	compressed := enc.EncodeAll(batch.Bytes(), nil)
	for b.Loop() {
		if _, err := Encode(NewUpdated(link, at)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(one), "bytes/event")
	b.ReportMetric(float64(len(compressed))/100, "zstd-bytes/event")
}

func BenchmarkDecode(b *testing.B) {
	v, err := Encode(NewUpdated(link, at))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(v)))
	for b.Loop() {
		if _, err := Decode(v); err != nil {
			b.Fatal(err)
		}
	}
}
