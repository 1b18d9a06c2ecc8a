package statsdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver

	"github.com/shortify/shortify/internal/clickevents"
	"github.com/shortify/shortify/internal/snowflake"
	"github.com/shortify/shortify/stats/aggregate"
	"github.com/shortify/shortify/stats/hll"
	"github.com/shortify/shortify/stats/partitions"
)

// sqliteBackend writes to the embedded default's SQLite file, through one
// connection: SQLite has one writer at a time anyway.
type sqliteBackend struct {
	cfg Config
	db  *sql.DB
}

// openSQLite opens the stats database in the SQLite file at path
// (cfg.DSN's).
func openSQLite(ctx context.Context, cfg Config, path string) (*sqliteBackend, error) {
	if cfg.Migrate {
		// The whole stats schema, stats_offsets included: package
		// partitions owns it.
		m, err := partitions.Open(ctx, partitions.Config{DSN: cfg.DSN, Migrate: true, Logger: cfg.Logger})
		if err != nil {
			return nil, fmt.Errorf("statsdb: %w", err)
		}
		m.Close()
	}
	q := url.Values{
		"_pragma": {"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(NORMAL)"},
		"_txlock": {"immediate"},
	}
	db, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("statsdb: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("statsdb: open %s: %w", path, err)
	}
	return &sqliteBackend{cfg: cfg, db: db}, nil
}

func (s *sqliteBackend) close() { s.db.Close() }

func sqliteTx(ctx context.Context, db *sql.DB, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() // after Commit, a no-op
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

func (s *sqliteBackend) loadOffsets(ctx context.Context, group, topic string, parts []int32) (map[int32]int64, error) {
	out := map[int32]int64{}
	if len(parts) == 0 {
		return out, nil
	}
	args := []any{group, topic}
	for _, p := range parts {
		args = append(args, p)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT partition, next_offset FROM stats_offsets
		WHERE consumer_group = ? AND topic = ? AND partition IN (?`+strings.Repeat(",?", len(parts)-1)+`)`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var p int32
		var off int64
		if err := rows.Scan(&p, &off); err != nil {
			return nil, err
		}
		out[p] = off
	}
	return out, rows.Err()
}

func (s *sqliteBackend) write(ctx context.Context, b *Batch) error {
	return sqliteTx(ctx, s.db, func(tx *sql.Tx) error {
		now := time.Now().UnixMicro()
		for _, o := range b.Offsets {
			var res sql.Result
			var err error
			if o.Expected == NoOffset {
				res, err = tx.ExecContext(ctx, `INSERT INTO stats_offsets (consumer_group, topic, partition, next_offset, updated_at)
					VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, b.Group, o.Topic, o.Partition, o.Next, now)
			} else {
				res, err = tx.ExecContext(ctx, `UPDATE stats_offsets SET next_offset = ?, updated_at = ?
					WHERE consumer_group = ? AND topic = ? AND partition = ? AND next_offset = ?`,
					o.Next, now, b.Group, o.Topic, o.Partition, o.Expected)
			}
			if err != nil {
				return fmt.Errorf("offset of %s/%d: %w", o.Topic, o.Partition, err)
			}
			if n, err := res.RowsAffected(); err != nil || n != 1 {
				return errors.Join(fmt.Errorf("%s/%d expected at %d: %w", o.Topic, o.Partition, o.Expected, ErrFenced), err)
			}
		}
		if err := s.writeTotals(ctx, tx, b.Rows); err != nil {
			return err
		}
		if err := sqliteClicks(ctx, tx, b.Clicks); err != nil {
			return err
		}
		return sqliteDelete(ctx, tx, b.Deletions)
	})
}

func (s *sqliteBackend) writeTotals(ctx context.Context, tx *sql.Tx, rows []aggregate.Row) error {
	var stmts [2]struct{ get, put *sql.Stmt }
	for _, g := range []aggregate.Grain{aggregate.Hour, aggregate.Day} {
		table, _ := tableOf(g)
		var err error
		if stmts[g].get, err = tx.PrepareContext(ctx, `SELECT visitors, dims FROM `+table+` WHERE code = ? AND bucket = ? AND link_id = ? AND bot = ? AND workspace_id = ?`); err != nil {
			return err
		}
		defer stmts[g].get.Close()
		if stmts[g].put, err = tx.PrepareContext(ctx, `INSERT INTO `+table+` (code, bucket, link_id, bot, clicks, visitors, dims, workspace_id)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (code, bucket, link_id, bot, workspace_id) DO UPDATE
			SET clicks = clicks + excluded.clicks, visitors = coalesce(excluded.visitors, visitors), dims = excluded.dims`); err != nil {
			return err
		}
		defer stmts[g].put.Close()
	}
	for i := range rows {
		r := &rows[i]
		st := stmts[r.Grain]
		bucket, bot := sqliteMicros(r.Bucket), boolInt(r.Bot)
		var storedVis, storedDims []byte
		err := st.get.QueryRowContext(ctx, r.Code, bucket, r.LinkID, bot, r.Workspace).Scan(&storedVis, &storedDims)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("read stored row: %w", err)
		}
		var vis []byte
		if r.Visitors != nil {
			sk := r.Visitors
			if storedVis != nil {
				var old hll.Sketch
				if err := old.UnmarshalBinary(storedVis); err != nil {
					s.cfg.Logger.Warn("statsdb: replacing an unreadable visitors sketch", "code", r.Code, "bucket", r.Time(), "err", err)
				} else {
					old.Merge(sk)
					sk = &old
				}
			}
			if vis, err = sk.MarshalBinary(); err != nil {
				return err
			}
		}
		dims, err := r.Dims.MergeBinary(nil, storedDims)
		if err != nil {
			s.cfg.Logger.Warn("statsdb: replacing unreadable dimension counts", "code", r.Code, "bucket", r.Time(), "err", err)
			dims = r.Dims.AppendBinary(nil)
		}
		if _, err := st.put.ExecContext(ctx, r.Code, bucket, r.LinkID, bot, r.Clicks, vis, dims, r.Workspace); err != nil {
			return fmt.Errorf("upsert %v row: %w", r.Grain, err)
		}
	}
	return nil
}

func sqliteClicks(ctx context.Context, tx *sql.Tx, evs []clickevents.Event) error {
	if len(evs) == 0 {
		return nil
	}
	st, err := tx.PrepareContext(ctx, `INSERT INTO clicks (`+strings.Join(rawClickCols, ", ")+`) VALUES (?`+strings.Repeat(", ?", len(rawClickCols)-1)+`)`)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, row := range rawRows(evs, func(t time.Time) any { return t.UnixMicro() }) {
		if row[9] == true {
			row[9] = 1
		} else {
			row[9] = 0
		}
		if _, err := st.ExecContext(ctx, row...); err != nil {
			return fmt.Errorf("insert raw click: %w", err)
		}
	}
	return nil
}

func sqliteDelete(ctx context.Context, tx *sql.Tx, dels []Deletion) error {
	for _, d := range dels {
		if d.Code == "" {
			continue
		}
		for _, table := range deleteTables {
			var err error
			if d.LinkID != 0 {
				_, err = tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE code = ? AND link_id = ?`, d.Code, d.LinkID)
			} else {
				_, err = tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE code = ? AND link_id <> 0 AND link_id < ?`, d.Code, snowflake.IDAt(d.At))
			}
			if err != nil {
				return fmt.Errorf("delete %s of %s: %w", table, d.Code, err)
			}
		}
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
