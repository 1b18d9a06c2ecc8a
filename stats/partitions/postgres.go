package partitions

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shortify/shortify/internal/storedsn"
)

// LockKey is the pg_advisory_xact_lock key that serialises partition DDL
// across managers and nodes: "shortpar" in ASCII.
const LockKey int64 = 0x73686f7274706172

// pgBackend keeps the partitions of a PostgreSQL database's current schema.
type pgBackend struct {
	pool        *pgxpool.Pool
	schema      string
	lockTimeout time.Duration
}

// openPostgres opens a pool on dsn whose sessions use UTC, so that bounds
// are written and read back in UTC whatever the server's TimeZone.
func openPostgres(ctx context.Context, dsn string, cfg Config, migrate bool) (_ *pgBackend, err error) {
	pc, err := pgxpool.ParseConfig(dsn) // its errors redact the password
	if err != nil {
		return nil, fmt.Errorf("partitions: %w", err)
	}
	pc.MaxConns = cfg.MaxConns
	pc.ConnConfig.RuntimeParams["timezone"] = "UTC"
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		return nil, fmt.Errorf("partitions: %w", err)
	}
	defer func() {
		if err != nil {
			pool.Close()
		}
	}()
	if err := pool.Ping(ctx); err != nil {
		return nil, fmt.Errorf("partitions: ping %s: %w", storedsn.Describe(dsn), err)
	}
	if migrate {
		if err := Migrate(ctx, pool); err != nil {
			return nil, err
		}
	}
	var schema *string
	if err := pool.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return nil, fmt.Errorf("partitions: current schema: %w", err)
	}
	if schema == nil {
		return nil, errors.New("partitions: no schema on the search_path exists")
	}
	return &pgBackend{pool: pool, schema: *schema, lockTimeout: cfg.LockTimeout}, nil
}

func (*pgBackend) partitioned() bool { return true }

func (b *pgBackend) close() { b.pool.Close() }

// ident is a schema-qualified, quoted name.
func (b *pgBackend) ident(name string) string {
	return pgx.Identifier{b.schema, name}.Sanitize()
}

// begin runs fn in a transaction that holds LockKey and has the lock
// timeout set.
func (b *pgBackend) begin(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", LockKey); err != nil {
			return fmt.Errorf("take the partition lock: %w", err)
		}
		ms := strconv.FormatInt(b.lockTimeout.Milliseconds(), 10) + "ms"
		if _, err := tx.Exec(ctx, "SELECT set_config('lock_timeout', $1, true)", ms); err != nil {
			return fmt.Errorf("set lock_timeout: %w", err)
		}
		return fn(tx)
	})
}

// tsLiteral is a UTC time as a quoted timestamptz literal.
func tsLiteral(t time.Time) string {
	return "'" + t.UTC().Format("2006-01-02 15:04:05") + "+00'"
}

// monthPartition is the managed partition of table for month.
func monthPartition(table string, month time.Time) Partition {
	from, to := MonthStart(month), AddMonths(month, 1)
	return Partition{
		Table:         table,
		Name:          PartitionName(table, from),
		Strategy:      StrategyRange,
		Bounds:        "FOR VALUES FROM (" + tsLiteral(from) + ") TO (" + tsLiteral(to) + ")",
		From:          from,
		To:            to,
		EstimatedRows: -1,
		Managed:       true,
		InDatabase:    true,
	}
}

func (b *pgBackend) ensure(ctx context.Context, tables []string, months []time.Time) ([]Partition, error) {
	existing, err := b.list(ctx)
	if err != nil {
		return nil, err
	}
	have := make(map[string]bool, len(existing))
	for _, p := range existing {
		have[p.Name] = true
	}
	var created []Partition
	for _, t := range tables {
		for _, m := range months {
			p := monthPartition(t, m)
			if have[p.Name] {
				continue
			}
			ok, err := b.create(ctx, p)
			if err != nil {
				return created, fmt.Errorf("create %s: %w", p.Name, err)
			}
			if ok {
				created = append(created, p)
			}
		}
	}
	return created, nil
}

// create creates p unless another manager did first; ok is whether this
// call created it.
func (b *pgBackend) create(ctx context.Context, p Partition) (ok bool, err error) {
	err = b.begin(ctx, func(tx pgx.Tx) error {
		// Under the lock, so this check and the CREATE are atomic with
		// respect to every other manager.
		var parent *string
		err := tx.QueryRow(ctx, `
SELECT (SELECT pc.relname FROM pg_inherits i JOIN pg_class pc ON pc.oid = i.inhparent WHERE i.inhrelid = c.oid)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname = $2`, b.schema, p.Name).Scan(&parent)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return err
		case parent != nil && *parent == p.Table:
			return nil // created meanwhile
		default:
			return fmt.Errorf("%w: %s exists but is not a partition of %s (detached earlier? rename or drop it)", ErrNameTaken, p.Name, p.Table)
		}
		if _, err := tx.Exec(ctx, "CREATE TABLE "+b.ident(p.Name)+" PARTITION OF "+b.ident(p.Table)+" "+p.Bounds); err != nil {
			return err
		}
		ok = true
		return nil
	})
	return ok, err
}

func (b *pgBackend) expire(ctx context.Context, cutoff time.Time, detach bool) (Expired, error) {
	ex := Expired{Detached: detach}
	ps, err := b.list(ctx)
	if err != nil {
		return ex, err
	}
	for _, p := range ps {
		if !p.Managed || !pastRetention(p, cutoff) {
			continue
		}
		var removed bool
		err := b.begin(ctx, func(tx pgx.Tx) error {
			cur, err := b.lookup(ctx, tx, p.Name)
			if errors.Is(err, ErrNotFound) {
				return nil // removed meanwhile
			}
			if err != nil {
				return err
			}
			if cur.Table != p.Table {
				return nil
			}
			stmt := "DROP TABLE " + b.ident(p.Name)
			if detach {
				stmt = "ALTER TABLE " + b.ident(p.Table) + " DETACH PARTITION " + b.ident(p.Name)
			}
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return err
			}
			removed = true
			return nil
		})
		if err != nil {
			return ex, fmt.Errorf("remove %s: %w", p.Name, err)
		}
		if removed {
			ex.Partitions = append(ex.Partitions, p)
		}
	}
	return ex, nil
}

func (b *pgBackend) drop(ctx context.Context, name string, cutoff time.Time) (Partition, error) {
	var p Partition
	err := b.begin(ctx, func(tx pgx.Tx) error {
		var err error
		if p, err = b.lookup(ctx, tx, name); err != nil {
			return err
		}
		if !p.Managed {
			return &RefusedError{Partition: name, Reason: ErrNotManaged,
				Detail: fmt.Sprintf("it is a %s partition of %s, which is not one of the managed tables (%s)",
					p.Strategy, p.Table, strings.Join(Tables, ", "))}
		}
		if !pastRetention(p, cutoff) {
			detail := fmt.Sprintf("its range ends at %s, after the retention cutoff %s",
				p.To.UTC().Format(time.RFC3339), cutoff.UTC().Format(time.RFC3339))
			if p.To.IsZero() {
				detail = "its range has no upper time bound (" + p.Bounds + ")"
			}
			return &RefusedError{Partition: name, Reason: ErrWithinRetention, Detail: detail}
		}
		_, err = tx.Exec(ctx, "DROP TABLE "+b.ident(name))
		return err
	})
	return p, err
}

const sqlList = `
SELECT parent.relname, child.relname, pt.partstrat::text,
       coalesce(pg_get_expr(child.relpartbound, child.oid), ''),
       child.reltuples::float8, pg_total_relation_size(child.oid)
FROM pg_partitioned_table pt
JOIN pg_class parent ON parent.oid = pt.partrelid AND parent.relkind = 'p'
JOIN pg_namespace n ON n.oid = parent.relnamespace
JOIN pg_inherits i ON i.inhparent = parent.oid
JOIN pg_class child ON child.oid = i.inhrelid
WHERE n.nspname = $1 AND ($2::text IS NULL OR child.relname = $2)
ORDER BY parent.relname, child.relname`

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func (b *pgBackend) list(ctx context.Context) ([]Partition, error) {
	return b.query(ctx, b.pool, nil)
}

// lookup returns the partition called name, or ErrNotFound.
func (b *pgBackend) lookup(ctx context.Context, q querier, name string) (Partition, error) {
	ps, err := b.query(ctx, q, &name)
	if err != nil {
		return Partition{}, err
	}
	if len(ps) == 0 {
		return Partition{}, fmt.Errorf("partitions: %q: %w", name, ErrNotFound)
	}
	return ps[0], nil
}

func (b *pgBackend) query(ctx context.Context, q querier, name *string) ([]Partition, error) {
	rows, err := q.Query(ctx, sqlList, b.schema, name)
	if err != nil {
		return nil, err
	}
	var ps []Partition
	for rows.Next() {
		p := Partition{InDatabase: true}
		var strat string
		var tuples float64
		if err := rows.Scan(&p.Table, &p.Name, &strat, &p.Bounds, &tuples, &p.SizeBytes); err != nil {
			rows.Close()
			return nil, err
		}
		p.EstimatedRows = int64(tuples)
		if tuples < 0 {
			p.EstimatedRows = -1
		}
		switch strat {
		case "r":
			p.Strategy = StrategyRange
			p.From, p.To = parseRangeBounds(p.Bounds)
		case "h":
			p.Strategy = StrategyHash
			p.Modulus, p.Remainder = parseHashBounds(p.Bounds)
		case "l":
			p.Strategy = StrategyList
		default:
			p.Strategy = strat
		}
		p.Managed = p.Strategy == StrategyRange && slices.Contains(Tables, p.Table)
		ps = append(ps, p)
	}
	return ps, rows.Err()
}

var (
	rangeBoundsRE = regexp.MustCompile(`^FOR VALUES FROM \((.+)\) TO \((.+)\)$`)
	hashBoundsRE  = regexp.MustCompile(`^FOR VALUES WITH \(modulus (\d+), remainder (\d+)\)$`)
)

// parseRangeBounds reads the bounds of a range over one time column as
// pg_get_expr writes them in a UTC session; zero for anything else.
func parseRangeBounds(s string) (from, to time.Time) {
	m := rangeBoundsRE.FindStringSubmatch(s)
	if m == nil {
		return time.Time{}, time.Time{}
	}
	return parseTimeLiteral(m[1]), parseTimeLiteral(m[2])
}

// parseTimeLiteral parses a quoted timestamptz, timestamp or date literal;
// zero for MINVALUE, MAXVALUE, several columns or anything else.
func parseTimeLiteral(s string) time.Time {
	v, ok := strings.CutPrefix(s, "'")
	if v, ok = strings.CutSuffix(v, "'"); !ok || strings.Contains(v, "'") {
		return time.Time{}
	}
	for _, layout := range []string{"2006-01-02 15:04:05.999999-07", "2006-01-02 15:04:05.999999-07:00", "2006-01-02 15:04:05.999999", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

func parseHashBounds(s string) (modulus, remainder int) {
	m := hashBoundsRE.FindStringSubmatch(s)
	if m == nil {
		return 0, 0
	}
	mod, _ := strconv.Atoi(m[1])
	rem, _ := strconv.Atoi(m[2])
	return mod, rem
}
