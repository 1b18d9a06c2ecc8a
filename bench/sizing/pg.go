package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shortify/shortify/internal/base62"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/linkstore/pgstore"
	"github.com/shortify/shortify/internal/splitmix"
)

// database is a PostgreSQL database of the run's own.
type database struct {
	admin, dsn, name string
}

// newDatabase creates an empty database; drop removes it.
func newDatabase(ctx context.Context, admin string) (*database, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	d := &database{admin: admin, name: "shortify_sizing_" + hex.EncodeToString(b[:])}
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL (make services starts it): %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{d.name}.Sanitize()); err != nil {
		return nil, fmt.Errorf("create database %s: %w", d.name, err)
	}
	u, err := url.Parse(admin)
	if err != nil {
		return nil, fmt.Errorf("parse the PostgreSQL DSN: %w", err)
	}
	u.Path = "/" + d.name
	d.dsn = u.String()
	return d, nil
}

func (d *database) drop() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, d.admin)
	if err != nil {
		fmt.Printf("sizing: drop database %s: %v\n", d.name, err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{d.name}.Sanitize()+" WITH (FORCE)"); err != nil {
		fmt.Printf("sizing: drop database %s: %v\n", d.name, err)
	}
}

// codeOf is the i-th of a run's distinct 7-character codes, spread over
// the code space as generated codes are (i times an odd number that is not
// a multiple of 31 is a bijection modulo 62^7).
func codeOf(i int) string {
	const space = 62 * 62 * 62 * 62 * 62 * 62 * 62
	return base62.Encode(uint64(i)*1_000_003%space, 7)
}

// targetURL is a 100-byte URL, the plan's average.
func targetURL(i int) string {
	u := fmt.Sprintf("https://shop.example.com/collections/summer/item-%09d?utm_source=newsletter&utm_medium=email&x=", i)
	return u + strings.Repeat("a", 100-len(u))
}

// relationSizes sums, over a partitioned table's partitions, its heap
// (with TOAST and the free-space and visibility maps) and each index.
func relationSizes(ctx context.Context, conn *pgx.Conn, table string) (heap int64, indexes map[string]int64, err error) {
	err = conn.QueryRow(ctx, `SELECT coalesce(sum(pg_table_size(relid)), 0)::bigint FROM pg_partition_tree($1::regclass)`, table).Scan(&heap)
	if err != nil {
		return 0, nil, fmt.Errorf("size of %s: %w", table, err)
	}
	rows, err := conn.Query(ctx, `
		SELECT i.indexrelid::regclass::text, (SELECT coalesce(sum(pg_relation_size(relid)), 0)::bigint FROM pg_partition_tree(i.indexrelid))
		FROM pg_index i WHERE i.indrelid = $1::regclass ORDER BY 1`, table)
	if err != nil {
		return 0, nil, fmt.Errorf("index sizes of %s: %w", table, err)
	}
	indexes = map[string]int64{}
	for rows.Next() {
		var name string
		var size int64
		if err := rows.Scan(&name, &size); err != nil {
			return 0, nil, err
		}
		indexes[name] = size
	}
	return heap, indexes, rows.Err()
}

// printSizes prints a table's bytes per row, heap and each index.
func printSizes(label string, rows int64, heap int64, indexes map[string]int64) int64 {
	total := heap
	var parts []string
	for name, size := range indexes {
		total += size
		parts = append(parts, fmt.Sprintf("%s %.0f", name, float64(size)/float64(rows)))
	}
	fmt.Printf("%s: %d rows, %s in all: %.0f B a row (heap %.0f; indexes: %s)\n",
		label, rows, mib(total), float64(total)/float64(rows), float64(heap)/float64(rows), strings.Join(slices.Sorted(slices.Values(parts)), ", "))
	return total
}

// measureLinks seeds links by COPY as an import would (every index of the
// schema maintained), prints the disk per link, then looks random codes up
// through the store and prints PostgreSQL's block accesses per lookup.
func measureLinks(ctx context.Context, o options) error {
	d, err := newDatabase(ctx, o.admin)
	if err != nil {
		return err
	}
	defer d.drop()
	st, err := pgstore.Open(ctx, linkstore.Config{DSN: d.dsn, Migrate: true})
	if err != nil {
		return fmt.Errorf("apply the schema: %w", err)
	}
	st.Close()
	conn, err := pgx.Connect(ctx, d.dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())

	lsn0, err := walPosition(ctx, conn)
	if err != nil {
		return err
	}
	created := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	i := 0
	begin := time.Now()
	cols := []string{"code", "id", "url", "status", "created_at", "disabled", "host", "workspace_id", "domain"}
	copied, err := conn.CopyFrom(ctx, pgx.Identifier{"links"}, cols, pgx.CopyFromFunc(func() ([]any, error) {
		if i == o.links {
			return nil, nil
		}
		row := []any{codeOf(i), int64(1)<<40 + int64(i), targetURL(i), int16(0), created.Add(time.Duration(i) * time.Millisecond),
			false, "shop.example.com", int64(1), ""}
		i++
		return row, nil
	}))
	if err != nil {
		return fmt.Errorf("copy %d links: %w", o.links, err)
	}
	took := time.Since(begin)
	lsn1, err := walPosition(ctx, conn)
	if err != nil {
		return err
	}
	fmt.Printf("links: seeded %d by COPY in %s, %.0f links/s (every index maintained), %.0f B of WAL a link\n",
		copied, took.Round(time.Millisecond), float64(copied)/took.Seconds(), float64(lsn1-lsn0)/float64(copied))
	// The steady state of a table written long ago: hint bits set, the
	// visibility map built, statistics current.
	if _, err := conn.Exec(ctx, "VACUUM (ANALYZE) links"); err != nil {
		return fmt.Errorf("vacuum: %w", err)
	}
	heap, indexes, err := relationSizes(ctx, conn, "links")
	if err != nil {
		return err
	}
	printSizes("links", copied, heap, indexes)

	var sharedBuffers int64
	if err := conn.QueryRow(ctx, `SELECT setting::bigint * 8192 FROM pg_settings WHERE name = 'shared_buffers'`).Scan(&sharedBuffers); err != nil {
		return err
	}
	pk := heap + indexes["links_code_domain_key"]
	fmt.Printf("links: heap and key index %s, %.1f× shared_buffers (%s)\n", mib(pk), float64(pk)/float64(sharedBuffers), mib(sharedBuffers))
	if err := measureLookups(ctx, o, d); err != nil {
		return err
	}
	return measureSetClicks(ctx, o, d, conn)
}

// measureSetClicks writes click totals onto random links as the leader's
// click-totals job does (Store.SetClicks, batches of 1,000) and prints the
// WAL and the time a changed link costs: clicks is in an index, so each
// change is a new row version with an entry in every index.
func measureSetClicks(ctx context.Context, o options, d *database, conn *pgx.Conn) error {
	st, err := pgstore.Open(ctx, linkstore.Config{DSN: d.dsn})
	if err != nil {
		return err
	}
	defer st.Close()
	const batches, size = 20, 1000
	lsn0, err := walPosition(ctx, conn)
	if err != nil {
		return err
	}
	begin := time.Now()
	var changed int64
	for b := range batches {
		totals := make([]linkstore.ClickTotal, size)
		for j := range totals {
			i := int(splitmix.Mix(uint64(b*size+j)+0x5eed) % uint64(o.links))
			totals[j] = linkstore.ClickTotal{LinkID: int64(1)<<40 + int64(i), Code: codeOf(i), Clicks: int64(b + 1), Humans: int64(b + 1)}
		}
		n, err := st.SetClicks(ctx, totals)
		if err != nil {
			return err
		}
		changed += n
	}
	took := time.Since(begin)
	lsn1, err := walPosition(ctx, conn)
	if err != nil {
		return err
	}
	fmt.Printf("links: click totals of %d links changed (SetClicks, batches of %d) in %s: %.0f µs and %.0f B of WAL a changed link\n",
		changed, size, took.Round(time.Millisecond), float64(took.Microseconds())/float64(changed), float64(lsn1-lsn0)/float64(changed))
	return nil
}

// walPosition is the current WAL insert position in bytes.
func walPosition(ctx context.Context, conn *pgx.Conn) (int64, error) {
	var lsn int64
	err := conn.QueryRow(ctx, `SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::bigint`).Scan(&lsn)
	if err != nil {
		return 0, fmt.Errorf("wal position: %w", err)
	}
	return lsn, nil
}

// measureLookups runs random lookups through the store (the edge's L3
// path) twice, the first to warm shared_buffers, and prints the second's
// block accesses per lookup: hits in shared_buffers and reads (misses,
// from the OS cache or the disk).
func measureLookups(ctx context.Context, o options, d *database) error {
	lookups := func() error {
		st, err := pgstore.Open(ctx, linkstore.Config{DSN: d.dsn})
		if err != nil {
			return err
		}
		defer st.Close()
		const workers = 8
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := range workers {
			wg.Go(func() {
				seed := uint64(w)*0x9e3779b97f4a7c15 + uint64(time.Now().UnixNano())
				for range o.lookups / workers {
					seed++
					code := codeOf(int(splitmix.Mix(seed) % uint64(o.links)))
					if _, err := st.Lookup(ctx, "", code); err != nil {
						errs <- fmt.Errorf("lookup %s: %w", code, err)
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		return <-errs
	}
	if err := lookups(); err != nil {
		return err
	}
	before, err := blockCounts(ctx, d)
	if err != nil {
		return err
	}
	if err := lookups(); err != nil {
		return err
	}
	after, err := settledBlockCounts(ctx, d, before)
	if err != nil {
		return err
	}
	n := float64(o.lookups / 8 * 8)
	hit, read := float64(after[0]-before[0])/n, float64(after[1]-before[1])/n
	fmt.Printf("links: %d lookups of random codes: %.2f blocks a lookup (%.2f in shared_buffers, %.2f read from the OS cache or disk)\n",
		int(n), hit+read, hit, read)
	return nil
}

// blockCounts reads the database's blks_hit and blks_read.
func blockCounts(ctx context.Context, d *database) ([2]int64, error) {
	conn, err := pgx.Connect(ctx, d.admin)
	if err != nil {
		return [2]int64{}, err
	}
	defer conn.Close(context.Background())
	var c [2]int64
	err = conn.QueryRow(ctx, `SELECT blks_hit, blks_read FROM pg_stat_database WHERE datname = $1`, d.name).Scan(&c[0], &c[1])
	return c, err
}

// settledBlockCounts waits until the counts stop moving: backends report
// their statistics when they exit, after the pool has closed.
func settledBlockCounts(ctx context.Context, d *database, before [2]int64) ([2]int64, error) {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	last := before
	for range 40 {
		<-tick.C
		c, err := blockCounts(ctx, d)
		if err != nil {
			return c, err
		}
		if c != before && c == last {
			return c, nil
		}
		last = c
	}
	return last, fmt.Errorf("pg_stat_database did not settle")
}
