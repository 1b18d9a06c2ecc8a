package imports_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/shortify/shortify/cli/imports"
)

// benchRead reads n generated records per op, so that the readers'
// cost per record shows next to the import's (docs/import.md).
func benchRead(b *testing.B, f imports.Format, data []byte, n int) {
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		r, err := imports.Open(f, bytes.NewReader(data), imports.Options{})
		if err != nil {
			b.Fatal(err)
		}
		recs, bad, err := readAll(b, r)
		if err != nil || len(bad) > 0 || len(recs) != n {
			b.Fatalf("%d records, bad %v, err %v", len(recs), bad, err)
		}
	}
}

const benchRecords = 10_000

func BenchmarkPlainCSV(b *testing.B) {
	var buf bytes.Buffer
	buf.WriteString("url,alias,title,tags,expires_at,domain\n")
	for i := range benchRecords {
		fmt.Fprintf(&buf, "https://example.com/articles/%d,a-%d,Article %d,one|two,,\n", i, i, i)
	}
	benchRead(b, imports.CSV, buf.Bytes(), benchRecords)
}

func BenchmarkYOURLSSQL(b *testing.B) {
	var buf bytes.Buffer
	for i := range benchRecords {
		if i%1000 == 0 {
			if i > 0 {
				buf.WriteString(";\n")
			}
			buf.WriteString("INSERT INTO `yourls_url` VALUES ")
		} else {
			buf.WriteByte(',')
		}
		fmt.Fprintf(&buf, "('k%d','https://example.com/articles/%d','Article \\'%d\\'','2026-01-01 00:00:00','127.0.0.1',0)", i, i, i)
	}
	buf.WriteString(";\n")
	benchRead(b, imports.YOURLS, buf.Bytes(), benchRecords)
}

func BenchmarkShlinkJSON(b *testing.B) {
	var buf bytes.Buffer
	buf.WriteString(`{"shortUrls":{"data":[`)
	for i := range benchRecords {
		if i > 0 {
			buf.WriteString(",\n")
		}
		fmt.Fprintf(&buf, `{"shortCode":"c%d","shortUrl":"https://s.test/c%d","longUrl":"https://example.com/articles/%d","title":"Article %d","tags":["one","two"],"dateCreated":"2026-01-01T00:00:00+00:00","meta":{"validUntil":null},"domain":null}`, i, i, i, i)
	}
	buf.WriteString(`],"pagination":{}}}`)
	benchRead(b, imports.Shlink, buf.Bytes(), benchRecords)
}
