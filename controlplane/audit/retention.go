package audit

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	statsparts "github.com/shortify/shortify/stats/partitions"
)

// Table is the partitioned audit table.
const Table = "audit_log"

// ddlLockTimeout bounds how long partition DDL waits for the table's lock,
// so that the recorder's inserts never queue behind it for long.
const ddlLockTimeout = "5s"

// sqliteDeleteBatch bounds the rows one retention DELETE removes on
// SQLite, so that the file's write lock is never held for long.
const sqliteDeleteBatch = 5000

// Maintain is the audit log's scheduled upkeep, in the stats partitions'
// report shape so that the leader's partition scheduler
// (controlplane/partitions) runs it: on PostgreSQL it creates the
// partitions of the current month and the months ahead and drops those
// whose whole month ended before now minus the retention; on SQLite it
// deletes the entries older than that.
func (s *Store) Maintain(ctx context.Context, now time.Time) (statsparts.Report, error) {
	var r statsparts.Report
	cutoff := now.Add(-s.cfg.Retention)
	if s.sqlite {
		n, err := s.deleteBefore(ctx, cutoff)
		r.Expired.Rows = n
		return r, err
	}
	created, err := s.ensure(ctx, now)
	r.Created = created
	dropped, derr := s.dropBefore(ctx, cutoff)
	r.Expired.Partitions = dropped
	return r, errors.Join(err, derr)
}

// deleteBefore deletes the SQLite entries older than cutoff, in batches.
func (s *Store) deleteBefore(ctx context.Context, cutoff time.Time) (int64, error) {
	var total int64
	for {
		res, err := s.exec(ctx, `DELETE FROM audit_log WHERE id IN
			(SELECT id FROM audit_log WHERE at < $1 LIMIT $2)`, cutoff, sqliteDeleteBatch)
		if err != nil {
			return total, fmt.Errorf("audit: delete entries before %s: %w", cutoff.UTC().Format(time.RFC3339), err)
		}
		n, _ := res.RowsAffected()
		total += n
		if n < sqliteDeleteBatch {
			return total, nil
		}
	}
}

// partition is audit_log's partition of month.
func partition(month time.Time) statsparts.Partition {
	from, to := statsparts.MonthStart(month), statsparts.AddMonths(month, 1)
	return statsparts.Partition{
		Table: Table, Name: statsparts.PartitionName(Table, from), Strategy: statsparts.StrategyRange,
		From: from, To: to, EstimatedRows: -1, Managed: true, InDatabase: true,
	}
}

// partitions returns the names of audit_log's partitions.
func (s *Store) partitions(ctx context.Context, tx pgx.Tx) ([]string, error) {
	rows, err := tx.Query(ctx, `
SELECT c.relname FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
JOIN pg_class p ON p.oid = i.inhparent
JOIN pg_namespace n ON n.oid = p.relnamespace
WHERE n.nspname = $1 AND p.relname = $2`, s.schema, Table)
	if err != nil {
		return nil, fmt.Errorf("audit: list partitions: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("audit: list partitions: %w", err)
	}
	return names, nil
}

// ddl runs fn in a transaction that holds the partition DDL lock of every
// Shortify manager (statsparts.LockKey) and a lock timeout, with the names
// of audit_log's partitions as they are under the lock.
func (s *Store) ddl(ctx context.Context, fn func(tx pgx.Tx, have []string) error) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", statsparts.LockKey); err != nil {
			return fmt.Errorf("take the partition lock: %w", err)
		}
		if _, err := tx.Exec(ctx, "SELECT set_config('lock_timeout', $1, true)", ddlLockTimeout); err != nil {
			return fmt.Errorf("set lock_timeout: %w", err)
		}
		have, err := s.partitions(ctx, tx)
		if err != nil {
			return err
		}
		return fn(tx, have)
	})
}

func (s *Store) ident(name string) string { return pgx.Identifier{s.schema, name}.Sanitize() }

// ensure creates the missing partitions of the month of now and the
// months ahead.
func (s *Store) ensure(ctx context.Context, now time.Time) ([]statsparts.Partition, error) {
	var created []statsparts.Partition
	err := s.ddl(ctx, func(tx pgx.Tx, have []string) error {
		for _, m := range statsparts.MonthsFrom(now, s.cfg.MonthsAhead) {
			p := partition(m)
			if slices.Contains(have, p.Name) {
				continue
			}
			stmt := fmt.Sprintf("CREATE TABLE %s PARTITION OF %s FOR VALUES FROM ('%s') TO ('%s')",
				s.ident(p.Name), s.ident(Table), p.From.Format(time.RFC3339), p.To.Format(time.RFC3339))
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("create %s: %w", p.Name, err)
			}
			created = append(created, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("audit: ensure partitions: %w", err)
	}
	return created, nil
}

// dropBefore drops the partitions whose whole month ends by cutoff.
func (s *Store) dropBefore(ctx context.Context, cutoff time.Time) ([]statsparts.Partition, error) {
	var dropped []statsparts.Partition
	err := s.ddl(ctx, func(tx pgx.Tx, have []string) error {
		slices.Sort(have)
		for _, name := range have {
			table, month, ok := statsparts.ParsePartitionName(name)
			if !ok || table != Table {
				continue // not one this package made: left alone
			}
			p := partition(month)
			if p.To.After(cutoff) {
				continue
			}
			if _, err := tx.Exec(ctx, "DROP TABLE "+s.ident(name)); err != nil {
				return fmt.Errorf("drop %s: %w", name, err)
			}
			dropped = append(dropped, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("audit: drop partitions before %s: %w", cutoff.UTC().Format(time.RFC3339), err)
	}
	return dropped, nil
}
