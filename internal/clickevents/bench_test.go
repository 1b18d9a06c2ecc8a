package clickevents

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func BenchmarkAppendBinary(b *testing.B) {
	buf := make([]byte, 0, 2048)
	e := sample
	defer ReportCPU(b, CPUTime(b))
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
	defer ReportCPU(b, CPUTime(b))
	for b.Loop() {
		if err := e.UnmarshalBinary(v); err != nil {
			b.Fatal(err)
		}
	}
}

// batch returns n encoded events as a producer batches them: random codes,
// link IDs and visitors, a few dozen user agents, referrers and countries.
func batch(b *testing.B, n int) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	var uas, refs []string
	for i := range 30 {
		uas = append(uas, fmt.Sprintf("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/%d.0.%d.%d Safari/537.36", 100+i%30, rng.IntN(9000), rng.IntN(200)))
	}
	for i := range 50 {
		refs = append(refs, fmt.Sprintf("https://site%d.example.com/articles/%d", i, rng.IntN(100000)))
	}
	countries := []string{"DE", "US", "FR", "GB", "JP", "BR", "IN", "", "NL", "ES"}
	start := time.Now().UnixMilli()
	var out []byte
	for i := range n {
		code := make([]byte, 6)
		for j := range code {
			code[j] = alphabet[rng.IntN(len(alphabet))]
		}
		e := Event{
			Time: time.UnixMilli(start + int64(i)/10), Code: string(code), LinkID: rng.Int64N(1 << 62),
			Status: 302, Visitor: rng.Uint64(), Country: countries[rng.IntN(len(countries))],
			UserAgent: uas[rng.IntN(len(uas))], Referrer: refs[rng.IntN(len(refs))],
		}
		var err error
		if out, err = e.AppendBinary(out); err != nil {
			b.Fatal(err)
		}
	}
	return out
}

// BenchmarkCompression compares the codecs the emitter may use, with the
// client's own compressors at their default levels, on a batch of 1000
// events (values only; Kafka's record framing adds a few bytes to each):
// bytes per event after compression and CPU time per event.
func BenchmarkCompression(b *testing.B) {
	const n = 1000
	raw := batch(b, n)
	for _, c := range []struct {
		name  string
		codec kgo.CompressionCodec
	}{
		{"none", kgo.NoCompression()},
		{"lz4", kgo.Lz4Compression()},
		{"zstd", kgo.ZstdCompression()},
		{"snappy", kgo.SnappyCompression()},
		{"gzip", kgo.GzipCompression()},
	} {
		b.Run(c.name, func(b *testing.B) {
			comp, err := kgo.DefaultCompressor(c.codec)
			if err != nil {
				b.Fatal(err)
			}
			var buf bytes.Buffer
			size := len(raw)
			start := CPUTime(b)
			for b.Loop() {
				if comp != nil {
					buf.Reset()
					out, _ := comp.Compress(&buf, raw)
					size = len(out)
				}
			}
			b.ReportMetric(float64(CPUTime(b)-start)/float64(b.N)/n, "cpu-ns/event")
			b.ReportMetric(float64(size)/n, "bytes/event")
		})
	}
}
