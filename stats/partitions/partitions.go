// Package partitions administers the stats database's time-series tables:
// raw clicks and the hourly and daily aggregates that the stats service
// writes. On PostgreSQL they are PARTITION BY RANGE on their time column
// with one partition per UTC month, named TABLE_yYYYYmMM (clicks_y2026m11)
// and bounded [first of the month, first of the next month).
//
// A Manager creates the schema (embedded migrations recorded in
// stats_schema_migrations), keeps the current month plus N ahead
// (EnsureAhead), drops or detaches the partitions whose whole range is
// older than the retention (ApplyRetention), lists every partition of the
// database's partitioned tables, the links' hash partitions included (List),
// and creates or drops partitions on request (Create, Drop). Every DDL
// statement runs in a short transaction that takes one advisory lock and a
// lock_timeout, so managers on several nodes never race and never queue
// the writers of a busy table behind them for long.
//
// On SQLite (the embedded default) the same tables exist unpartitioned:
// List is empty, EnsureAhead does nothing, and the retention deletes old
// rows.
//
// This package owns the whole stats schema: the tables above, their
// monthly partition DDL and stats_offsets, in one set of migrations
// recorded in stats_schema_migrations. The stats service opens it to create
// the months a batch needs; the control plane's Raft leader runs the upkeep
// (Manager.Maintain) through its own scheduler (controlplane/partitions).
package partitions

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/shortify/shortify/internal/storedsn"
)

// Tables are the tables whose monthly partitions a Manager keeps, in the
// order it works on them.
var Tables = []string{"clicks", "clicks_hourly", "clicks_hourly_dims", "clicks_daily", "clicks_daily_dims"}

// Limits and defaults of the policy.
const (
	// MaxMonthsAhead bounds how many months ahead may be created.
	MaxMonthsAhead = 24
	// DefaultMonthsAhead is how many months after the current one
	// EnsureAhead keeps by default.
	DefaultMonthsAhead = 3
	// DefaultRetention is how long data is kept by default: 400 days, a
	// year-on-year comparison of the same month and some margin.
	DefaultRetention = 400 * 24 * time.Hour
	// DefaultLockTimeout bounds how long DDL waits for a table lock.
	DefaultLockTimeout = 5 * time.Second
	// defaultMaxConns is the pool size; the manager issues one statement
	// at a time, the API a few.
	defaultMaxConns = 4
)

// Sentinel errors; they are wrapped with context, test with errors.Is.
var (
	// ErrNotFound means no partition has the name.
	ErrNotFound = errors.New("no such partition")
	// ErrNotManaged means the partition belongs to a table whose
	// partitions this package does not administer (links, for one).
	ErrNotManaged = errors.New("partition of a table that is not managed")
	// ErrWithinRetention means part of the partition's range is not yet
	// older than the retention period.
	ErrWithinRetention = errors.New("partition is within the retention period")
	// ErrUnpartitioned means the stats database (SQLite) has no
	// partitions to create or drop.
	ErrUnpartitioned = errors.New("the stats database has no partitions")
	// ErrUnknownTable means a table is not one of Tables.
	ErrUnknownTable = errors.New("not a partitioned stats table")
	// ErrBadMonths means a months count is out of range.
	ErrBadMonths = errors.New("months out of range")
	// ErrNameTaken means a relation that is not the expected partition
	// (for example one detached earlier) holds a partition's name.
	ErrNameTaken = errors.New("partition name taken by another relation")
)

// RefusedError is Drop's refusal to drop a partition that exists. It
// unwraps to ErrNotManaged, ErrWithinRetention or ErrUnpartitioned.
type RefusedError struct {
	// Partition is the name asked for.
	Partition string
	// Reason is one of the sentinels above.
	Reason error
	// Detail explains the refusal to a person.
	Detail string
}

// Error implements error.
func (e *RefusedError) Error() string {
	return fmt.Sprintf("partitions: will not drop %s: %s", e.Partition, e.Detail)
}

// Unwrap returns the reason.
func (e *RefusedError) Unwrap() error { return e.Reason }

// Partition strategies, as Partition.Strategy names them.
const (
	StrategyRange = "range"
	StrategyHash  = "hash"
	StrategyList  = "list"
)

// Partition describes one partition of a partitioned table.
type Partition struct {
	// Table is the partitioned (parent) table.
	Table string
	// Name is the partition's own table name.
	Name string
	// Strategy is StrategyRange, StrategyHash or StrategyList.
	Strategy string
	// Bounds is PostgreSQL's text of the bounds, e.g. FOR VALUES FROM
	// ('2026-11-01 00:00:00+00') TO ('2026-12-01 00:00:00+00'), or FOR
	// VALUES WITH (modulus 16, remainder 3).
	Bounds string
	// From and To are a time range's bounds, [From, To); zero when the
	// partition is no range over one time column or the bound is
	// MINVALUE/MAXVALUE.
	From, To time.Time
	// Modulus and Remainder are a hash partition's bounds (zero
	// otherwise).
	Modulus, Remainder int
	// EstimatedRows is pg_class.reltuples: the planner's estimate, -1
	// while the partition has never been vacuumed or analysed.
	EstimatedRows int64
	// SizeBytes is pg_total_relation_size: the table, its indexes and
	// TOAST.
	SizeBytes int64
	// Managed is true for a range partition of one of Tables.
	Managed bool
	// PastRetention is true for a managed partition of the database whose
	// whole range is older than the retention period: Drop and
	// ApplyRetention remove it.
	PastRetention bool
	// InDatabase is false for a partition List shows only because the
	// catalogue holds it (dropped, detached, or drift).
	InDatabase bool
	// Catalogue is the partition's catalogue entry; nil when it has none
	// or the Manager has no Catalogue.
	Catalogue *CatalogueEntry
	// Drift is DriftMissingFromDatabase, DriftMissingFromCatalogue or ""
	// when the database and the catalogue agree (or there is no
	// catalogue).
	Drift string
}

// Expired is what ApplyRetention removed.
type Expired struct {
	// Partitions were dropped, or detached when Detached (PostgreSQL).
	Partitions []Partition
	// Detached is true when the partitions were detached, not dropped.
	Detached bool
	// Rows is the number of rows deleted (SQLite).
	Rows int64
}

// Report is the outcome of one Maintain.
type Report struct {
	// Reconciled are the existing partitions that Reconcile catalogued.
	Reconciled []Partition
	// Created are the partitions EnsureAhead created.
	Created []Partition
	// Expired is what ApplyRetention removed.
	Expired Expired
}

// Config configures a Manager.
type Config struct {
	// DSN names the stats database: postgres://…, postgresql://… or
	// sqlite://PATH (sqlite:PATH).
	DSN string
	// LinksDSN names the link database, when it is another database than
	// DSN, so that List shows the links' partitions too. Empty or equal to
	// DSN: the links are in the stats database (or not on PostgreSQL).
	LinksDSN string
	// Migrate applies the stats schema's migrations at Open.
	Migrate bool
	// MonthsAhead is how many months after the current one Maintain keeps
	// (default DefaultMonthsAhead, 1..MaxMonthsAhead).
	MonthsAhead int
	// Retention is how long data is kept (default DefaultRetention): a
	// partition whose whole range ends at or before now-Retention is past
	// it.
	Retention time.Duration
	// Policy, when set and holding a policy, overrides Retention for List
	// and Drop, so that they agree with the upkeep that reads the same
	// replicated policy (the control plane passes the cluster's).
	Policy PolicySource
	// Detach makes the retention detach expired partitions (left as plain
	// tables for archiving) instead of dropping them.
	Detach bool
	// LockTimeout bounds how long one DDL statement waits for its table's
	// lock (default DefaultLockTimeout); on timeout the statement fails and
	// the next run retries.
	LockTimeout time.Duration
	// MaxConns bounds the PostgreSQL pool (default 4).
	MaxConns int32
	// Now is the clock of Create and Drop (nil: time.Now).
	Now func() time.Time
	// Logger receives what the manager changed (nil: slog.Default()).
	Logger *slog.Logger
	// Catalogue, when set, records every partition the manager creates,
	// detaches or drops, and List shows it beside the database (see
	// Catalogue).
	Catalogue Catalogue
}

// withDefaults fills the defaults and validates.
func (c Config) withDefaults() (Config, error) {
	c.MonthsAhead = cmp.Or(c.MonthsAhead, DefaultMonthsAhead)
	c.Retention = cmp.Or(c.Retention, DefaultRetention)
	c.LockTimeout = cmp.Or(c.LockTimeout, DefaultLockTimeout)
	c.MaxConns = cmp.Or(c.MaxConns, defaultMaxConns)
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	switch {
	case c.MonthsAhead < 1 || c.MonthsAhead > MaxMonthsAhead:
		return c, fmt.Errorf("partitions: months ahead %d is outside 1..%d: %w", c.MonthsAhead, MaxMonthsAhead, ErrBadMonths)
	case c.Retention < 0:
		return c, errors.New("partitions: the retention must be positive")
	case c.LockTimeout < time.Millisecond:
		return c, errors.New("partitions: the lock timeout must be at least 1ms")
	}
	return c, nil
}

// backend is the database-specific part of a Manager.
type backend interface {
	// partitioned tells PostgreSQL from SQLite.
	partitioned() bool
	// ensure creates the missing partitions of tables for months.
	ensure(ctx context.Context, tables []string, months []time.Time) ([]Partition, error)
	// expire removes what is older than cutoff.
	expire(ctx context.Context, cutoff time.Time, detach bool) (Expired, error)
	// list returns the partitions of every partitioned table.
	list(ctx context.Context) ([]Partition, error)
	// drop drops one managed partition whose range ends by cutoff.
	drop(ctx context.Context, name string, cutoff time.Time) (Partition, error)
	close()
}

// Manager administers the stats tables' partitions. Its methods are safe
// for concurrent use, also by managers in other processes.
type Manager struct {
	cfg   Config
	stats backend
	// links lists the links' partitions when they live in another
	// PostgreSQL database; nil otherwise.
	links *pgBackend
}

// Open connects to the stats database that cfg.DSN names, choosing the
// backend by the DSN's scheme, and applies the migrations when cfg.Migrate.
func Open(ctx context.Context, cfg Config) (*Manager, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	d, err := storedsn.Parse(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("partitions: stats database: %w", err)
	}
	m := &Manager{cfg: cfg}
	if d.Dialect == storedsn.Postgres {
		m.stats, err = openPostgres(ctx, cfg.DSN, cfg, cfg.Migrate)
	} else {
		m.stats, err = openSQLite(ctx, d.Path, cfg.Migrate)
	}
	if err != nil {
		return nil, err
	}
	if links, err := storedsn.Parse(cfg.LinksDSN); err == nil && links.Dialect == storedsn.Postgres && cfg.LinksDSN != cfg.DSN {
		if m.links, err = openPostgres(ctx, cfg.LinksDSN, cfg, false); err != nil {
			m.stats.close()
			return nil, fmt.Errorf("partitions: links database: %w", err)
		}
	}
	return m, nil
}

// Close closes the database connections.
func (m *Manager) Close() {
	m.stats.close()
	if m.links != nil {
		m.links.close()
	}
}

// Partitioned reports whether the stats database has partitions
// (PostgreSQL) or not (SQLite).
func (m *Manager) Partitioned() bool { return m.stats.partitioned() }

// EnsureAhead creates the partitions of every managed table for the month
// of now and the monthsAhead (0..MaxMonthsAhead) months after it, those
// that do not exist yet, and returns the ones it created. It is idempotent
// and safe to run concurrently, from several nodes too. On SQLite it does
// nothing. The partitions created are recorded in the catalogue, stamped
// with now; a failure to record is returned with them.
func (m *Manager) EnsureAhead(ctx context.Context, now time.Time, monthsAhead int) ([]Partition, error) {
	created, err := m.ensure(ctx, Tables, now, monthsAhead)
	return created, errors.Join(err, m.record(ctx, now, StateCreated, created))
}

func (m *Manager) ensure(ctx context.Context, tables []string, now time.Time, monthsAhead int) ([]Partition, error) {
	if monthsAhead < 0 || monthsAhead > MaxMonthsAhead {
		return nil, fmt.Errorf("partitions: months ahead %d is outside 0..%d: %w", monthsAhead, MaxMonthsAhead, ErrBadMonths)
	}
	if !m.stats.partitioned() {
		return nil, nil
	}
	created, err := m.stats.ensure(ctx, tables, MonthsFrom(now, monthsAhead))
	for _, p := range created {
		m.cfg.Logger.Info("created partition", "table", p.Table, "partition", p.Name, "month", p.From.Format("2006-01"))
	}
	if err != nil {
		return created, fmt.Errorf("partitions: ensure %d months ahead of %s: %w", monthsAhead, now.UTC().Format("2006-01"), err)
	}
	return created, nil
}

// retention is the retention in force: the replicated policy's when there
// is one, else the configured one.
func (m *Manager) retention() time.Duration {
	if m.cfg.Policy != nil {
		if p, ok := m.cfg.Policy.Policy(); ok {
			return p.Retention
		}
	}
	return m.cfg.Retention
}

// ApplyRetention removes the data older than retention: on PostgreSQL it
// drops (or, with detach, detaches) every partition of a managed table
// whose whole range ends at or before now-retention; on SQLite it deletes
// the rows (or the hourly and daily buckets) that end by then. A partition
// that reaches past the cutoff is kept whole.
func (m *Manager) ApplyRetention(ctx context.Context, now time.Time, retention time.Duration, detach bool) (Expired, error) {
	if retention <= 0 {
		return Expired{}, errors.New("partitions: the retention must be positive")
	}
	cutoff := now.Add(-retention)
	ex, err := m.stats.expire(ctx, cutoff, detach)
	state := StateDropped
	if ex.Detached {
		state = StateDetached
	}
	if rerr := m.record(ctx, now, state, ex.Partitions); rerr != nil {
		err = errors.Join(err, rerr)
	}
	for _, p := range ex.Partitions {
		m.cfg.Logger.Info("removed partition past retention", "table", p.Table, "partition", p.Name,
			"until", p.To.Format(time.RFC3339), "detached", ex.Detached)
	}
	if ex.Rows > 0 {
		m.cfg.Logger.Info("deleted rows past retention", "rows", ex.Rows, "cutoff", cutoff.UTC().Format(time.RFC3339))
	}
	if err != nil {
		return ex, fmt.Errorf("partitions: retention before %s: %w", cutoff.UTC().Format(time.RFC3339), err)
	}
	return ex, nil
}

// Maintain is the scheduled upkeep: EnsureAhead with the configured months
// ahead, then ApplyRetention with the configured retention and mode. The
// retention runs even when creating failed.
func (m *Manager) Maintain(ctx context.Context, now time.Time) (Report, error) {
	return m.MaintainWith(ctx, now, Policy{MonthsAhead: m.cfg.MonthsAhead, Retention: m.cfg.Retention, Detach: m.cfg.Detach})
}

// MaintainWith is Maintain with the months ahead, retention and mode of p
// instead of the configured ones. It reconciles the catalogue first.
func (m *Manager) MaintainWith(ctx context.Context, now time.Time, p Policy) (Report, error) {
	var r Report
	var errs []error
	var err error
	if r.Reconciled, err = m.Reconcile(ctx, now); err != nil {
		errs = append(errs, err)
	}
	if r.Created, err = m.EnsureAhead(ctx, now, p.MonthsAhead); err != nil {
		errs = append(errs, err)
	}
	if r.Expired, err = m.ApplyRetention(ctx, now, p.Retention, p.Detach); err != nil {
		errs = append(errs, err)
	}
	return r, errors.Join(errs...)
}

// List returns every partition of the partitioned tables in the stats
// database (and in the links database when that is another one), and,
// with a Catalogue, every catalogued partition the database does not hold,
// sorted by table and name, with Managed and PastRetention set by the
// configured retention and Catalogue and Drift by the catalogue. On SQLite
// the stats tables contribute none.
func (m *Manager) List(ctx context.Context) ([]Partition, error) {
	ps, err := m.stats.list(ctx)
	if err != nil {
		return nil, fmt.Errorf("partitions: list: %w", err)
	}
	if m.links != nil {
		lps, err := m.links.list(ctx)
		if err != nil {
			return nil, fmt.Errorf("partitions: list the links database: %w", err)
		}
		for _, p := range lps {
			if !slices.ContainsFunc(ps, func(q Partition) bool { return q.Table == p.Table && q.Name == p.Name }) {
				p.Managed, p.PastRetention = false, false // not the stats database's
				ps = append(ps, p)
			}
		}
	}
	if m.cfg.Catalogue != nil {
		ps = withCatalogue(ps, m.cfg.Catalogue.Entries())
	}
	cutoff := m.cfg.Now().Add(-m.retention())
	for i := range ps {
		if ps[i].Managed && ps[i].InDatabase {
			ps[i].PastRetention = pastRetention(ps[i], cutoff)
		}
	}
	slices.SortFunc(ps, func(a, b Partition) int {
		return cmp.Or(cmp.Compare(a.Table, b.Table), cmp.Compare(a.Name, b.Name))
	})
	return ps, nil
}

// Create creates the partitions of table (every managed table when table
// is "") for the current month and the months (1..MaxMonthsAhead) after
// it, and returns those it created (none when all existed). It fails with
// ErrUnknownTable for a table that is not managed and ErrUnpartitioned on
// SQLite.
func (m *Manager) Create(ctx context.Context, table string, months int) ([]Partition, error) {
	tables := Tables
	if table != "" {
		if !slices.Contains(Tables, table) {
			return nil, fmt.Errorf("partitions: create %q: %w (want one of %s)", table, ErrUnknownTable, strings.Join(Tables, ", "))
		}
		tables = []string{table}
	}
	if months < 1 || months > MaxMonthsAhead {
		return nil, fmt.Errorf("partitions: create %d months: %w (want 1..%d)", months, ErrBadMonths, MaxMonthsAhead)
	}
	if !m.stats.partitioned() {
		return nil, fmt.Errorf("partitions: create: %w (SQLite keeps each table whole)", ErrUnpartitioned)
	}
	created, err := m.ensure(ctx, tables, m.cfg.Now(), months)
	if len(created) == 0 {
		return created, err
	}
	m.recordOrLog(ctx, StateCreated, created)
	// Show them as List does (size, estimate); as made if that fails.
	if ps, lerr := m.stats.list(ctx); lerr == nil {
		for i, c := range created {
			if j := slices.IndexFunc(ps, func(p Partition) bool { return p.Name == c.Name }); j >= 0 {
				created[i] = ps[j]
			}
		}
	}
	return created, err
}

// Drop drops the partition called name. It refuses with a *RefusedError
// unless the partition belongs to a managed table and its whole range is
// past the retention period, and fails with ErrNotFound when no partition
// of the stats database has the name.
func (m *Manager) Drop(ctx context.Context, name string) (Partition, error) {
	cutoff := m.cfg.Now().Add(-m.retention())
	p, err := m.stats.drop(ctx, name, cutoff)
	if err != nil {
		if _, refused := errors.AsType[*RefusedError](err); refused || errors.Is(err, ErrNotFound) {
			if errors.Is(err, ErrNotFound) && m.links != nil {
				if ps, lerr := m.links.list(ctx); lerr == nil && slices.ContainsFunc(ps, func(q Partition) bool { return q.Name == name }) {
					return Partition{}, &RefusedError{Partition: name, Reason: ErrNotManaged,
						Detail: "it is a partition of the link database, which is not managed here"}
				}
			}
			return Partition{}, err
		}
		return Partition{}, fmt.Errorf("partitions: drop %q: %w", name, err)
	}
	m.cfg.Logger.Info("dropped partition on request", "table", p.Table, "partition", p.Name, "until", p.To.Format(time.RFC3339))
	m.recordOrLog(ctx, StateDropped, []Partition{p})
	return p, nil
}

// pastRetention reports whether p's whole range ends by cutoff.
func pastRetention(p Partition, cutoff time.Time) bool {
	return !p.To.IsZero() && !p.To.After(cutoff)
}
