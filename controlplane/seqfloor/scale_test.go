//go:build faults

package seqfloor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shortify/shortify/internal/codegen"
	"github.com/shortify/shortify/internal/snowflake"
	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/internal/testkit/teststore"
)

// scaleLinks is the links table's size in TestMeasureAtScale: a
// realistic production table, where a scan of every row would show.
const scaleLinks = 1_000_000

// TestMeasureAtScale seeds a million links (COPY, in the test's own
// schema), one every 2.6 s over a month, and takes a backup at the
// 990,000th: the fallback scan must read the links of the last hours
// through links_id_idx (the plan, EXPLAIN (FORMAT JSON), has no
// sequential scan of a links partition), and be exact here; the mark,
// once written, answers alone. It logs both times and the load average.
func TestMeasureAtScale(t *testing.T) {
	ctx := context.Background()
	dsn := testenv.Schema(t)
	teststore.Postgres(t, dsn) // the links table, migrated
	codec, err := codegen.New(bytes.Repeat([]byte{5}, codegen.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(-30 * 24 * time.Hour).UTC().Truncate(time.Millisecond)
	at := func(i int) time.Time { return start.Add(time.Duration(i) * 2600 * time.Millisecond) }

	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	seeded := time.Now()
	i := 0
	n, err := conn.CopyFrom(ctx, pgx.Identifier{"links"}, []string{"code", "id", "url", "created_at"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == scaleLinks {
				return nil, nil
			}
			c, err := codec.Code(uint64(i))
			if err != nil {
				return nil, err
			}
			row := []any{c, snowflake.IDAt(at(i)) | int64(i%1024), "https://example.com/" + c, at(i)}
			i++
			return row, nil
		}))
	if err != nil || n != scaleLinks {
		t.Fatalf("COPY: %d rows, %v", n, err)
	}
	if _, err := conn.Exec(ctx, `ANALYZE links`); err != nil {
		t.Fatal(err)
	}
	t.Logf("seeded %d links in %v", n, time.Since(seeded).Round(time.Millisecond))

	const backupAt = scaleLinks - 10_000
	takenAt := at(backupAt)
	var plan []map[string]any
	var raw []byte
	if err := conn.QueryRow(ctx, `EXPLAIN (FORMAT JSON) `+ScanQuery, snowflake.IDAt(takenAt.Add(-Slack))).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &plan); err != nil {
		t.Fatal(err)
	}
	indexed, seq := planNodes(plan[0]["Plan"].(map[string]any))
	if len(seq) > 0 || indexed == 0 {
		t.Fatalf("the fallback scan's plan reads %v sequentially (%d index scans):\n%s", seq, indexed, raw)
	}

	l, err := Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	t0 := time.Now()
	f, err := l.Measure(ctx, codec, backupAt, takenAt)
	scanned := time.Since(t0)
	if err != nil {
		t.Fatal(err)
	}
	if f.Marked || f.Seq != scaleLinks || f.Scanned >= 2*(scaleLinks-backupAt) {
		t.Errorf("the fallback scan: %+v, want Seq %d from at most %d rows", f, scaleLinks, 2*(scaleLinks-backupAt))
	}
	rows := f.Scanned
	if err := l.RecordBlock(ctx, scaleLinks-1); err != nil {
		t.Fatal(err)
	}
	t0 = time.Now()
	f, err = l.Measure(ctx, codec, backupAt, takenAt)
	marked := time.Since(t0)
	if err != nil || !f.Marked || f.Seq != scaleLinks {
		t.Errorf("with the mark: %+v, %v", f, err)
	}
	t.Logf("Measure on %d links, backup %d links old: fallback scan %v (%d rows read, %d index scans in the plan), mark %v (%.1fx faster); load average %s",
		scaleLinks, scaleLinks-backupAt, scanned.Round(time.Microsecond), rows, indexed, marked.Round(time.Microsecond),
		float64(scanned)/float64(marked), loadAverage())
}

// planNodes walks an EXPLAIN (FORMAT JSON) plan: how many nodes read an
// index, and the relations read by a sequential scan.
func planNodes(p map[string]any) (indexed int, seq []string) {
	switch typ, _ := p["Node Type"].(string); {
	case strings.Contains(typ, "Index"):
		indexed++
	case typ == "Seq Scan":
		seq = append(seq, fmt.Sprint(p["Relation Name"]))
	}
	kids, _ := p["Plans"].([]any)
	for _, k := range kids {
		i, s := planNodes(k.(map[string]any))
		indexed += i
		seq = append(seq, s...)
	}
	return indexed, seq
}

// loadAverage is the one-minute load average, or "?".
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(data)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "?"
}
