package statsdb

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shortify/shortify/internal/snowflake"
	"github.com/shortify/shortify/internal/tracing"
	"github.com/shortify/shortify/stats/partitions"
)

// pgBackend writes to PostgreSQL.
type pgBackend struct {
	cfg  Config
	pool *pgxpool.Pool
	// parts creates the monthly partitions a batch needs when the control
	// plane has not (yet): events of a month it has not reached, or late
	// events of an old month.
	parts *partitions.Manager

	// partRows is the most rows per statement (pgPartRows; tests make
	// it small to write a batch in many parts).
	partRows int

	mu     sync.Mutex
	months map[time.Time]bool // partitions known to exist
}

func openPostgres(ctx context.Context, cfg Config) (_ *pgBackend, err error) {
	pcfg, err := pgxpool.ParseConfig(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("statsdb: parse DSN: %w", err)
	}
	pcfg.MaxConns = cfg.MaxConns
	tracing.InstrumentPool(pcfg) // a traced batch's writes as spans (internal/tracing)
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("statsdb: connect: %w", err)
	}
	defer func() {
		if err != nil {
			pool.Close()
		}
	}()
	if err := pool.Ping(ctx); err != nil {
		return nil, fmt.Errorf("statsdb: connect: %w", err)
	}
	parts, err := partitions.Open(ctx, partitions.Config{DSN: cfg.DSN, Migrate: cfg.Migrate, MaxConns: 2, Logger: cfg.Logger})
	if err != nil {
		return nil, fmt.Errorf("statsdb: %w", err)
	}
	return &pgBackend{cfg: cfg, pool: pool, parts: parts, partRows: pgPartRows, months: map[time.Time]bool{}}, nil
}

func (p *pgBackend) close() {
	p.pool.Close()
	p.parts.Close()
}

func (p *pgBackend) loadOffsets(ctx context.Context, group, topic string, parts []int32) (map[int32]int64, error) {
	rows, err := p.pool.Query(ctx,
		`SELECT partition, next_offset FROM stats_offsets WHERE consumer_group = $1 AND topic = $2 AND partition = ANY($3)`,
		group, topic, parts)
	if err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	var part int32
	var off int64
	_, err = pgx.ForEachRow(rows, []any{&part, &off}, func() error {
		out[part] = off
		return nil
	})
	return out, err
}

var rawClickCols = []string{"occurred_at", "code", "link_id", "visitor_hash", "referrer_host", "country", "device", "browser", "os", "bot", "status",
	"workspace_id", "domain", "variant"}

func (p *pgBackend) write(ctx context.Context, b *Batch) error {
	if err := p.ensureMonths(ctx, b); err != nil {
		return err
	}
	conn, err := p.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if err := p.writeRows(ctx, tx, b); err != nil {
			return err
		}
		if err := p.writeClicks(ctx, tx, b); err != nil {
			return err
		}
		return pgDelete(ctx, tx, b.Deletions)
	})
	if err != nil {
		// A partition the cache believes in may have been dropped since
		// (retention): check every month again on the retry.
		p.mu.Lock()
		clear(p.months)
		p.mu.Unlock()
	}
	return err
}

func (p *pgBackend) writeClicks(ctx context.Context, tx pgx.Tx, b *Batch) error {
	if len(b.Clicks) == 0 {
		return nil
	}
	src := rawRows(b.Clicks, func(t time.Time) any { return t })
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"clicks"}, rawClickCols, pgx.CopyFromRows(src))
	if err != nil {
		return fmt.Errorf("copy raw clicks: %w", err)
	}
	return nil
}

// deleteTables are the tables a deleted link's rows are removed from.
var deleteTables = []string{"clicks_hourly", "clicks_daily", "clicks_hourly_dims", "clicks_daily_dims", "clicks"}

func pgDelete(ctx context.Context, tx pgx.Tx, dels []Deletion) error {
	for _, d := range dels {
		if d.Code == "" {
			continue // never the roll-up
		}
		for _, table := range deleteTables {
			var err error
			if d.LinkID != 0 {
				_, err = tx.Exec(ctx, `DELETE FROM `+table+` WHERE code = $1 AND link_id = $2`, d.Code, d.LinkID)
			} else {
				_, err = tx.Exec(ctx, `DELETE FROM `+table+` WHERE code = $1 AND link_id <> 0 AND link_id < $2`, d.Code, snowflake.IDAt(d.At))
			}
			if err != nil {
				return fmt.Errorf("delete %s of %s: %w", table, d.Code, err)
			}
		}
	}
	return nil
}

// ensureMonths creates the monthly partitions the batch writes to and
// that this backend has not seen yet.
func (p *pgBackend) ensureMonths(ctx context.Context, b *Batch) error {
	need := map[time.Time]bool{}
	p.mu.Lock()
	for _, r := range b.Rows {
		if m := partitions.MonthStart(r.Time()); !p.months[m] {
			need[m] = true
		}
	}
	for _, c := range b.Clicks {
		if m := partitions.MonthStart(c.Time); !p.months[m] {
			need[m] = true
		}
	}
	p.mu.Unlock()
	for m := range need {
		if _, err := p.parts.EnsureAhead(ctx, m, 0); err != nil {
			return fmt.Errorf("partitions of %s: %w", m.Format("2006-01"), err)
		}
		p.mu.Lock()
		p.months[m] = true
		p.mu.Unlock()
	}
	return nil
}
