// Package linkseed bulk-loads links into a PostgreSQL links table (the
// schema of pgstore's migrations) by COPY, for the benchmarks that need
// millions of them (bench/edge, bench/loadtest): rows as pgstore writes
// them, two orders of magnitude faster than its inserts. It tells Redis
// and the edges nothing.
package linkseed

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shortify/shortify/internal/linkstore"
)

// Columns are the columns Copy fills; the others keep their NULL or
// default, as a create through the API leaves them for a plain link.
// Config.Smart adds SmartColumn.
var Columns = []string{"code", "id", "url", "status", "created_at", "disabled", "host", "workspace_id", "domain"}

// SmartColumn holds a smart link's options in their stored form
// (smartlink.Options.MarshalStored; pgstore migration 0008).
const SmartColumn = "smart"

// Source returns the i-th link of a seed, 0 <= i < Config.N. It is
// called from Config.Workers goroutines at once, each for its own
// indexes.
type Source func(i int) (linkstore.Link, error)

// Config says what Copy writes and how.
type Config struct {
	// DSN is the database's; its links table must exist.
	DSN string
	// N is the number of links: Source(0) to Source(N-1).
	N int
	// Workers is how many connections COPY side by side, each a
	// contiguous range of indexes. Default 1.
	Workers int
	// Host is every link's host column (what linkstore.HostOf gives for
	// their URLs), so that ten million rows do not parse ten million
	// URLs; "" takes linkstore.HostOf of each link's URL.
	Host string
	// Smart also fills SmartColumn with each link's options (NULL for a
	// link without any, as the stores write it).
	Smart bool
	// DeferIndexes drops the links table's indexes that are not unique
	// before the COPY and builds them again after it, from their own
	// definitions, so that the table ends as the migrations made it.
	// Maintained row by row, the trigram index of the dashboard's search
	// and the other btrees make a COPY of ten million links take most of
	// an hour on two cores; built once, minutes. The unique ones stay,
	// so that a duplicate key still fails the COPY.
	DeferIndexes bool
}

// Timing is how long Copy's steps took.
type Timing struct {
	Copy    time.Duration // the COPY, with the indexes that stayed
	Indexes time.Duration // building the deferred indexes (DeferIndexes)
	Analyze time.Duration
}

// Copy COPYs cfg.N links from src into the links table of cfg.DSN, then
// ANALYZEs the table.
func Copy(ctx context.Context, cfg Config, src Source) (Timing, error) {
	var t Timing
	if cfg.N < 0 {
		return t, fmt.Errorf("linkseed: %d links", cfg.N)
	}
	conn, err := pgx.Connect(ctx, cfg.DSN)
	if err != nil {
		return t, fmt.Errorf("linkseed: connect: %w", err)
	}
	defer conn.Close(context.Background())
	var deferred []string
	if cfg.DeferIndexes {
		if deferred, err = dropIndexes(ctx, conn); err != nil {
			return t, err
		}
	}

	begin := time.Now()
	workers := max(1, min(cmp.Or(cfg.Workers, 1), cfg.N))
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := cfg.N*w/workers, cfg.N*(w+1)/workers
		wg.Go(func() { errs[w] = copyRange(ctx, cfg, src, lo, hi) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return t, err
	}
	t.Copy = time.Since(begin)

	begin = time.Now()
	if len(deferred) > 0 {
		// A sort in memory rather than on disk: the trigram index of ten
		// million URLs is built several times faster.
		if _, err := conn.Exec(ctx, "SET maintenance_work_mem = '1GB'"); err != nil {
			return t, fmt.Errorf("linkseed: %w", err)
		}
	}
	for _, def := range deferred {
		if _, err := conn.Exec(ctx, def); err != nil {
			return t, fmt.Errorf("linkseed: build a deferred index again (%s): %w", def, err)
		}
	}
	t.Indexes = time.Since(begin)

	begin = time.Now()
	if _, err := conn.Exec(ctx, "ANALYZE links"); err != nil {
		return t, fmt.Errorf("linkseed: analyze: %w", err)
	}
	t.Analyze = time.Since(begin)
	return t, nil
}

// dropIndexes drops the indexes of the links table (on the search path)
// that are neither unique nor a primary key, and returns the statements
// that make them again.
func dropIndexes(ctx context.Context, conn *pgx.Conn) ([]string, error) {
	rows, err := conn.Query(ctx, `SELECT n.nspname, c.relname, pg_get_indexdef(i.indexrelid)
		FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE i.indrelid = 'links'::regclass AND NOT i.indisunique AND NOT i.indisprimary
		ORDER BY c.relname`)
	if err != nil {
		return nil, fmt.Errorf("linkseed: list the indexes of links: %w", err)
	}
	type index struct{ schema, name, def string }
	indexes, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (index, error) {
		var x index
		err := r.Scan(&x.schema, &x.name, &x.def)
		return x, err
	})
	if err != nil {
		return nil, fmt.Errorf("linkseed: list the indexes of links: %w", err)
	}
	defs := make([]string, len(indexes))
	for i, x := range indexes {
		if _, err := conn.Exec(ctx, "DROP INDEX "+pgx.Identifier{x.schema, x.name}.Sanitize()); err != nil {
			return nil, fmt.Errorf("linkseed: drop index %s: %w", x.name, err)
		}
		// The definition of a partitioned table's index says ON ONLY,
		// which would build it on no partition: without ONLY it is built
		// on each of them too, as the migration's CREATE INDEX did.
		defs[i] = strings.Replace(x.def, " ON ONLY ", " ON ", 1)
	}
	return defs, nil
}

// copyRange COPYs the links of indexes [lo, hi) on one connection.
func copyRange(ctx context.Context, cfg Config, src Source, lo, hi int) error {
	conn, err := pgx.Connect(ctx, cfg.DSN)
	if err != nil {
		return fmt.Errorf("linkseed: connect: %w", err)
	}
	defer conn.Close(context.Background())
	cols := Columns
	if cfg.Smart {
		cols = append(cols[:len(cols):len(cols)], SmartColumn)
	}
	i := lo
	// pgx reports a source's error as the server's answer to the
	// aborted COPY, a string: srcErr keeps the error itself.
	var srcErr error
	rows := pgx.CopyFromFunc(func() ([]any, error) {
		if i == hi {
			return nil, nil
		}
		l, err := src(i)
		if err != nil {
			srcErr = fmt.Errorf("link %d: %w", i, err)
			return nil, srcErr
		}
		i++
		host := cfg.Host
		if host == "" {
			host = linkstore.HostOf(l.URL)
		}
		row := []any{l.Code, l.ID, l.URL, int16(l.Status), l.CreatedAt, l.Disabled, host, l.WorkspaceID, l.Domain}
		if cfg.Smart {
			var stored []byte // NULL
			if !l.Smart.IsZero() {
				// Raw JSON: pgx writes a []byte into jsonb as it is.
				if stored, err = l.Smart.MarshalStored(); err != nil {
					srcErr = fmt.Errorf("link %d (%s): %w", i-1, l.Code, err)
					return nil, srcErr
				}
			}
			row = append(row, stored)
		}
		return row, nil
	})
	copied, err := conn.CopyFrom(ctx, pgx.Identifier{"links"}, cols, rows)
	if srcErr != nil {
		return fmt.Errorf("linkseed: copy links %d to %d: %w", lo, hi, srcErr)
	}
	if err != nil {
		return fmt.Errorf("linkseed: copy links %d to %d: %w", lo, hi, err)
	}
	if copied != int64(hi-lo) {
		return fmt.Errorf("linkseed: copied %d links, want %d", copied, hi-lo)
	}
	return nil
}
