package migrations_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shortify/shortify/controlplane/audit"
	"github.com/shortify/shortify/controlplane/seqfloor"
	"github.com/shortify/shortify/internal/blockset"
	"github.com/shortify/shortify/internal/domainmirror"
	"github.com/shortify/shortify/internal/linkstore/pgstore"
	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/stats/partitions"
	whstore "github.com/shortify/shortify/webhooks/store"
)

// placement is where a table would live once its database is split over
// several PostgreSQL primaries (docs/sizing.md, "When one primary is no
// longer enough"): sharded by keys (every primary key and unique index
// holds them, so each shard enforces uniqueness alone), replicated to
// every shard (Citus's reference tables), or kept on one node (the
// coordinator, or the first primary of a hash-sharded deployment).
type placement struct {
	keys       []string // distribution key first; empty: not sharded
	replicated bool     // reference data, on every shard
	why        string
}

// sharded places a table on shards by keys; keys[0] is the distribution
// column, the others must stay in every unique key as well (see stats).
func sharded(why string, keys ...string) placement { return placement{keys: keys, why: why} }

func reference(why string) placement { return placement{replicated: true, why: why} }

func single(why string) placement { return placement{why: why} }

// linkTables places every table of the link database (the link store and
// the small stores that share its database). A table that a migration
// adds must be placed here, with the reason, or the test fails.
var linkTables = map[string]placement{
	"links": sharded("the edge finds a link by (domain, code) and the code alone picks the shard: "+
		"the same custom alias on two domains lands on one shard, which keeps (code, domain) unique locally; "+
		"already hash-partitioned on code", "code"),
	"link_reviews": sharded("a flagged link's review, read and written with the link: co-located with links", "code"),
	"link_clicks": sharded("a click limit's counter, claimed by one single-row upsert on the link's ID, "+
		"never joined with links: sharded on its own key", "link_id"),
	"blockset_entries":    reference("the threat block list: every create reads it, a few thousand rows"),
	"blockset_state":      reference("the block list's generation, one row"),
	"domain_mirror":       reference("the mirror of Raft's custom domains, read by every edge's domain check"),
	"domain_mirror_state": reference("the domain mirror's generation, one row"),
	"webhook_endpoints":   single("per workspace, written at API rate, never per redirect"),
	"webhook_deliveries":  single("the webhook outbox, references webhook_endpoints; per link event, not per redirect"),
	"audit_log":           single("one row per API call, time-partitioned with its own retention"),
	"abuse_reports":       single("reports from the public form, a handful a day"),
	"sequence_mark":       single("the code sequence's high-water mark for a restore, one row, one write per block"),
	"key_revocations":     single("API keys revoked, for a restore to revoke again; written at API rate"),
}

// statsTables places every table of the stats database. The aggregates
// are sharded by the link's ID (a released and reissued code starts new
// statistics) and keep code in every key too, so that they could be
// co-located with links (sharded by code) instead. Their roll-up rows
// (code ”, link_id 0) all fall on one shard: a few rows per batch.
var statsTables = map[string]placement{
	"clicks":             sharded("raw clicks of a link, no unique key", "link_id", "code"),
	"clicks_hourly":      sharded("a link's hourly totals", "link_id", "code"),
	"clicks_daily":       sharded("a link's daily totals", "link_id", "code"),
	"clicks_hourly_dims": sharded("a link's hourly dimension counts (read only, older rows)", "link_id", "code"),
	"clicks_daily_dims":  sharded("a link's daily dimension counts (read only, older rows)", "link_id", "code"),
	"stats_offsets": single("the consumer's position, written in the aggregates' transaction: " +
		"with the aggregates sharded that transaction spans shards (Citus commits it in two phases)"),
}

// bookkeeping are the migration tables: on the node that runs migrations.
var bookkeeping = []string{
	"schema_migrations", "blockset_migrations", "domainmirror_migrations", "seqfloor_migrations",
	whstore.MigrationsTable, audit.MigrationsTable, partitions.MigrationsTable,
}

// TestShardingReadySchema: after every migration, each sharded table's
// primary key and unique indexes hold its distribution keys (PostgreSQL,
// like Citus, can only enforce uniqueness within a shard or partition),
// and every table is placed, so that a new table or a new unique index
// without the key fails here rather than on the day the links are split.
func TestShardingReadySchema(t *testing.T) {
	t.Parallel()
	ctx := t.Context()

	linksDSN := testenv.Schema(t)
	migrateLinkDatabase(t, ctx, linksDSN)
	for _, p := range checkPlacement(t, ctx, linksDSN, linkTables) {
		t.Error("link database: " + p)
	}

	statsDSN := testenv.Schema(t)
	m, err := partitions.Open(ctx, partitions.Config{DSN: statsDSN, Migrate: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	// Monthly partitions, as the control plane's leader creates them: their
	// keys are checked too.
	if _, err := m.EnsureAhead(ctx, time.Now(), 1); err != nil {
		t.Fatal(err)
	}
	for _, p := range checkPlacement(t, ctx, statsDSN, statsTables) {
		t.Error("stats database: " + p)
	}
}

// TestShardingReadySchemaFindsViolations: the check reports a table
// nobody placed, a placed table that is gone, a unique key without the
// distribution key (on a partition too) and a foreign key a shard could
// not check.
func TestShardingReadySchemaFindsViolations(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dsn := testenv.Schema(t)
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	_, err = pool.Exec(ctx, `
		CREATE TABLE items (code text NOT NULL, n int NOT NULL, PRIMARY KEY (code, n)) PARTITION BY HASH (code);
		CREATE TABLE items_p0 PARTITION OF items FOR VALUES WITH (MODULUS 1, REMAINDER 0);
		CREATE UNIQUE INDEX items_p0_n ON items_p0 (n);
		CREATE TABLE owners (id bigint PRIMARY KEY);
		CREATE TABLE notes (code text NOT NULL, owner bigint NOT NULL REFERENCES owners (id), UNIQUE (code, owner));
		CREATE TABLE stray (id int)`)
	if err != nil {
		t.Fatal(err)
	}
	problems := checkPlacement(t, ctx, dsn, map[string]placement{
		"items":  sharded("test", "code"),
		"notes":  sharded("test", "code"),
		"owners": sharded("test", "id"),
		"gone":   reference("test"),
	})
	for _, want := range []string{
		"table stray is not placed",
		"table gone is placed here but does not exist",
		"items: unique key items_p0_n (n) lacks the distribution key code",
		"foreign key notes_owner_fkey from notes to owners",
	} {
		if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, want) }) {
			t.Errorf("no problem reported like %q; got %q", want, problems)
		}
	}
	if len(problems) != 4 {
		t.Errorf("%d problems, want 4: %q", len(problems), problems)
	}
}

// migrateLinkDatabase applies the migrations of every store that keeps
// its tables in the link database.
func migrateLinkDatabase(t *testing.T, ctx context.Context, dsn string) {
	t.Helper()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := pgstore.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	bs, err := blockset.Open(ctx, dsn, true)
	if err != nil {
		t.Fatal(err)
	}
	bs.Close()
	dm, err := domainmirror.Open(ctx, dsn, true)
	if err != nil {
		t.Fatal(err)
	}
	dm.Close()
	wh, err := whstore.Open(ctx, whstore.Config{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	wh.Close()
	au, err := audit.Open(ctx, audit.Config{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	au.Close()
	sf, err := seqfloor.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	sf.Close()
}

// uniqueKey is one primary key, unique constraint or unique index.
type uniqueKey struct {
	table, index string // table: the partition tree's root
	primary      bool
	columns      []string // key columns; "" for an expression
}

// checkPlacement reads the catalogue of dsn's schema, checks it against
// placed and returns what does not fit.
func checkPlacement(t *testing.T, ctx context.Context, dsn string, placed map[string]placement) (problems []string) {
	t.Helper()
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()

	tables := queryStrings(t, ctx, pool, `
		SELECT DISTINCT coalesce(pg_partition_root(c.oid), c.oid)::regclass::text
		FROM pg_class c
		WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')
		  AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')`)
	for _, name := range tables {
		if _, ok := placed[name]; !ok && !slices.Contains(bookkeeping, name) {
			problems = append(problems, fmt.Sprintf("table %s is not placed for sharding: add it to this test's table with its distribution key, or as reference or single-node data, and the reason", name))
		}
	}
	for name, p := range placed {
		if !slices.Contains(tables, name) {
			problems = append(problems, fmt.Sprintf("table %s is placed here but does not exist: remove it", name))
			continue
		}
		for _, k := range p.keys {
			var notNull bool
			err := pool.QueryRow(ctx, `SELECT attnotnull FROM pg_attribute WHERE attrelid = $1::regclass AND attname = $2 AND NOT attisdropped`,
				name, k).Scan(&notNull)
			if err != nil || !notNull {
				problems = append(problems, fmt.Sprintf("%s: distribution key %s must be a NOT NULL column (err %v)", name, k, err))
			}
		}
	}

	keys := uniqueKeys(t, ctx, pool)
	checked := 0
	for _, k := range keys {
		p, ok := placed[k.table]
		if !ok || len(p.keys) == 0 {
			continue
		}
		checked++
		for _, col := range p.keys {
			if !slices.Contains(k.columns, col) {
				problems = append(problems, fmt.Sprintf("%s: unique key %s (%s) lacks the distribution key %s (%s): a shard could not enforce it alone",
					k.table, k.index, strings.Join(k.columns, ", "), col, p.why))
			}
		}
	}
	if checked == 0 {
		problems = append(problems, "no unique key of a sharded table was found: the catalogue query reads nothing")
	}
	return append(problems, checkForeignKeys(t, ctx, pool, placed)...)
}

// uniqueKeys lists every unique index (primary keys and unique
// constraints have one) of the schema's tables and partitions, with its
// key columns (not its INCLUDE columns, which uniqueness ignores).
func uniqueKeys(t *testing.T, ctx context.Context, pool *pgxpool.Pool) []uniqueKey {
	t.Helper()
	rows, err := pool.Query(ctx, `
		SELECT coalesce(pg_partition_root(c.oid), c.oid)::regclass::text, i.relname, x.indisprimary,
		       array(SELECT coalesce(a.attname::text, '')
		             FROM unnest((x.indkey::int2[])[0:x.indnkeyatts - 1]) WITH ORDINALITY AS u(attnum, n)
		             LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = u.attnum
		             ORDER BY u.n)
		FROM pg_index x
		JOIN pg_class c ON c.oid = x.indrelid
		JOIN pg_class i ON i.oid = x.indexrelid
		WHERE c.relnamespace = current_schema()::regnamespace AND x.indisunique`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var keys []uniqueKey
	for rows.Next() {
		var k uniqueKey
		if err := rows.Scan(&k.table, &k.index, &k.primary, &k.columns); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return keys
}

// checkForeignKeys: a foreign key from a sharded table must point at
// reference data, or at a table sharded by the same key with the key in
// the reference (Citus's rule; with hash sharding by hand, the only keys a
// shard can check alone).
func checkForeignKeys(t *testing.T, ctx context.Context, pool *pgxpool.Pool, placed map[string]placement) (problems []string) {
	t.Helper()
	rows, err := pool.Query(ctx, `
		SELECT DISTINCT coalesce(pg_partition_root(conrelid), conrelid)::regclass::text,
		       coalesce(pg_partition_root(confrelid), confrelid)::regclass::text, conname,
		       array(SELECT attname::text FROM pg_attribute WHERE attrelid = conrelid AND attnum = ANY (conkey))
		FROM pg_constraint
		WHERE contype = 'f' AND connamespace = current_schema()::regnamespace`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var from, to, name string
		var cols []string
		if err := rows.Scan(&from, &to, &name, &cols); err != nil {
			t.Fatal(err)
		}
		pf, pt := placed[from], placed[to]
		switch {
		case len(pf.keys) == 0 && !pf.replicated && (len(pt.keys) == 0 || pt.replicated):
			// single-node to single-node or reference data: on one node.
		case pf.replicated && pt.replicated:
		case len(pf.keys) > 0 && pt.replicated:
		case len(pf.keys) > 0 && len(pt.keys) > 0 && pf.keys[0] == pt.keys[0] && slices.Contains(cols, pf.keys[0]):
		default:
			problems = append(problems, fmt.Sprintf("foreign key %s from %s to %s (%s) could not be checked once %s is sharded",
				name, from, to, strings.Join(cols, ", "), from))
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return problems
}

func queryStrings(t *testing.T, ctx context.Context, pool *pgxpool.Pool, query string) []string {
	t.Helper()
	rows, err := pool.Query(ctx, query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
