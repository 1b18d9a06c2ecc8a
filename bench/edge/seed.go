package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/shortify/shortify/internal/codegen"
	"github.com/shortify/shortify/internal/domainmirror"
	"github.com/shortify/shortify/internal/l2cache"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/linkstore/pgstore"
	"github.com/shortify/shortify/internal/smartlink"
	"github.com/shortify/shortify/internal/testkit/linkseed"
	"github.com/shortify/shortify/internal/workspace"
)

// targetPrefix starts every seeded link's URL; the code follows, so each
// link has a URL of its own (the static redirect's is targetPrefix alone,
// 7 bytes shorter: the difference in bytes on the wire is negligible).
const targetPrefix = "https://example.com/target/"

// The hosts of the benchmark: the instance's own host (the edge's hosts
// option) and one custom domain of workspace 2, registered and verified
// in the edge's custom-domain mirror. Requests name them in their Host
// header, so that the edge resolves host and code together.
const (
	ownHost         = "s.bench.example"
	customDomain    = "go.bench.example"
	customWorkspace = int64(2)
)

// database is a fresh PostgreSQL database made for one size.
type database struct {
	admin string // the server's admin DSN
	name  string
	dsn   string
	links linkSet
}

// createDatabase makes a database with a random name on the server of
// admin and returns it; drop removes it.
func createDatabase(ctx context.Context, admin string) (*database, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	name := "shortify_bench_edge_" + hex.EncodeToString(b[:])
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL (`make services` starts it): %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return nil, fmt.Errorf("create database %s: %w", name, err)
	}
	u, err := url.Parse(admin)
	if err != nil {
		return nil, fmt.Errorf("parse the admin DSN: %w", err)
	}
	u.Path = "/" + name
	return &database{admin: admin, name: name, dsn: u.String()}, nil
}

// drop removes the database, closing any connection still on it. It runs
// during cleanup, so it has a context of its own.
func (d *database) drop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, d.admin)
	if err != nil {
		return fmt.Errorf("drop database %s: %w", d.name, err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{d.name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", d.name, err)
	}
	return nil
}

// seedWorkers is how many connections COPY side by side: the server's
// work on two cores.
const seedWorkers = 2

// seed applies the schema (pgstore's migrations) and COPYs one link per
// code into the database (linkseed, from seedWorkers connections), then
// ANALYZEs it, the indexes it is not read by built after the COPY
// (linkseed.Config.DeferIndexes). It returns how long the COPY, the
// index builds and the ANALYZE took, which is what "seeding" measures. Smart links
// carry their options in the column smart, in the stores' form
// (smartlink.Options.MarshalStored); plain links leave it NULL, as the
// stores do.
func (d *database) seed(ctx context.Context, codes []string) (linkseed.Timing, error) {
	n := len(codes)
	st, err := pgstore.Open(ctx, linkstore.Config{DSN: d.dsn, Migrate: true})
	if err != nil {
		return linkseed.Timing{}, fmt.Errorf("apply the schema: %w", err)
	}
	st.Close()

	if d.links.smart {
		if err := hasSmartColumn(ctx, d.dsn); err != nil {
			return linkseed.Timing{}, err
		}
	}
	// Host: what linkstore.HostOf gives for every seeded URL. The
	// indexes the edge does not read by are built after the COPY (the
	// database is the run's own).
	cfg := linkseed.Config{DSN: d.dsn, N: n, Workers: seedWorkers, Host: "example.com", Smart: d.links.smart, DeferIndexes: true}
	tm, err := linkseed.Copy(ctx, cfg, d.links.source(codes))
	if err != nil {
		return tm, fmt.Errorf("seed %d links: %w", n, err)
	}
	if err := registerDomain(ctx, d.dsn); err != nil {
		return tm, err
	}
	return tm, nil
}

// hasSmartColumn checks that pgstore's migrations gave the links table the
// column that holds a link's smart options (migration 0008, issue 16), so
// that the smart case fails with a reason rather than a COPY error.
func hasSmartColumn(ctx context.Context, dsn string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("look for the links table's smart column: %w", err)
	}
	defer conn.Close(context.Background())
	var ok bool
	err = conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = 'links' AND column_name = 'smart')`).Scan(&ok)
	if err != nil {
		return fmt.Errorf("look for the links table's smart column: %w", err)
	}
	if !ok {
		return fmt.Errorf("the links table has no smart column (pgstore migration 0008, issue 16): this build cannot store smart links; -smart-sizes '' runs without the smart case")
	}
	return nil
}

// registerDomain writes the custom domain, verified, into the edge's
// custom-domain mirror, as the control plane's leader does once a domain
// is verified (the edges read the mirror, never the control plane).
func registerDomain(ctx context.Context, dsn string) error {
	st, err := domainmirror.Open(ctx, dsn, true)
	if err != nil {
		return fmt.Errorf("open the custom-domain mirror: %w", err)
	}
	defer st.Close()
	if _, _, err := st.Replace(ctx, []domainmirror.Entry{{Domain: customDomain, WorkspaceID: customWorkspace, Verified: true}}); err != nil {
		return fmt.Errorf("register %s in the custom-domain mirror: %w", customDomain, err)
	}
	return nil
}

// seededAt is the creation time of every seeded link.
var seededAt = time.Now().UTC().Truncate(time.Microsecond)

// linkSet says which seeded links live on the custom domain: a share of
// them (0 to 1), spread evenly over the sequence numbers, so that every
// slice of the codes mixes the hosts alike; and whether every link is a
// smart one (smartOptions).
type linkSet struct {
	domainShare float64
	smart       bool
}

// onDomain tells whether the i-th link is on the custom domain.
func (s linkSet) onDomain(i int) bool {
	return int(float64(i+1)*s.domainShare) > int(float64(i)*s.domainShare)
}

// host is the Host header that asks for the i-th link.
func (s linkSet) host(i int) string {
	if s.onDomain(i) {
		return customDomain
	}
	return ownHost
}

// source is the seed's links with codes, in linkseed's form.
func (s linkSet) source(codes []string) linkseed.Source {
	return func(i int) (linkstore.Link, error) { return s.link(i, codes[i]), nil }
}

// link is the i-th seeded link, the same in the database and in Redis:
// status 0 (the edge's default, 302), a URL of its own, an ID that is
// distinct and Snowflake-sized; on the custom domain (workspace 2) or on
// the own host (the default workspace, domain ""); with smartOptions in
// a smart set.
func (s linkSet) link(i int, code string) linkstore.Link {
	const firstID = int64(1) << 40
	l := linkstore.Link{ID: firstID + int64(i), Code: code, URL: targetPrefix + code, CreatedAt: seededAt, WorkspaceID: workspace.DefaultID}
	if s.onDomain(i) {
		l.Domain, l.WorkspaceID = customDomain, customWorkspace
	}
	if s.smart {
		l.Smart = smartOptions(code)
	}
	return l
}

// The smart case's rules and variants. wrk and the warm-up send no
// User-Agent that reads as mobile, no Accept-Language, and the edge has no
// GeoIP database, so no rule ever holds: every request walks all three
// rules, and the split picks the target, as issue 16 asks the benchmark
// to measure. The suffixes make each URL of a link its own.
var (
	smartRules = []struct {
		when   smartlink.Conditions
		suffix string
	}{
		{smartlink.Conditions{Device: []string{"mobile"}}, "/mobile"},
		{smartlink.Conditions{Country: []string{"DE"}}, "/de"},
		{smartlink.Conditions{Language: []string{"fr"}}, "/fr"},
	}
	smartTargets = []struct {
		suffix string
		weight int
	}{{"/a", 70}, {"/b", 30}}
)

// smartOptions are the options of the smart link with this code: three
// rules and a 70/30 split, each to a URL of its own under the link's URL.
func smartOptions(code string) smartlink.Options {
	var o smartlink.Options
	for _, r := range smartRules {
		o.Rules = append(o.Rules, smartlink.Rule{When: r.when, URL: targetPrefix + code + r.suffix})
	}
	for _, t := range smartTargets {
		o.Targets = append(o.Targets, smartlink.Target{URL: targetPrefix + code + t.suffix, Weight: t.weight})
	}
	return o
}

// urls returns the Locations the edge may answer for the link with this
// code: the link's URL for a plain link; for a smart one every rule's and
// every variant's URL, but not the link's own, which a link with a split
// never sends anyone to (an edge that ignored the options would answer
// it). choiceNames names them in the same order.
func (s linkSet) urls(code string) []string {
	if !s.smart {
		return []string{targetPrefix + code}
	}
	urls := make([]string, 0, len(smartRules)+len(smartTargets))
	for _, r := range smartRules {
		urls = append(urls, targetPrefix+code+r.suffix)
	}
	for _, t := range smartTargets {
		urls = append(urls, targetPrefix+code+t.suffix)
	}
	return urls
}

// choiceNames names what urls returns as the stats do (smartlink.Choice's
// names: the JSON path of the option that chose it).
func (s linkSet) choiceNames() []string {
	if !s.smart {
		return []string{"url"}
	}
	var names []string
	for i := range smartRules {
		names = append(names, fmt.Sprintf("rules[%d]", i))
	}
	for i := range smartTargets {
		names = append(names, fmt.Sprintf("targets[%d]", i))
	}
	return names
}

// makeCodes returns the codes of sequence numbers 0..n-1 under a fresh
// key: the codes a cluster issues (6 characters, not sequential), distinct
// by construction.
func makeCodes(n int) ([]string, error) {
	key, err := codegen.NewKey()
	if err != nil {
		return nil, err
	}
	codec, err := codegen.New(key)
	if err != nil {
		return nil, err
	}
	codes := make([]string, n)
	for i := range codes {
		if codes[i], err = codec.Code(uint64(i)); err != nil {
			return nil, fmt.Errorf("code %d: %w", i, err)
		}
	}
	return codes, nil
}

// writeCodes writes the codes file that codes.lua reads: one request per
// line, the Host header and the code, separated by a space.
func writeCodes(path string, links linkSet, codes []string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for i, c := range codes {
		w.WriteString(links.host(i))
		w.WriteByte(' ')
		w.WriteString(c)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}

// prefillRedis writes every seeded link into Redis as the control plane's
// write-through does on create (linkseed.FillL2), from conc concurrent
// connections, so that A's warm-up misses read Redis rather than the
// database (about twice as fast) and the Redis-hit path finds every code.
func prefillRedis(ctx context.Context, rdb redis.UniversalClient, prefix string, ttl time.Duration, links linkSet, codes []string, conc int) (time.Duration, error) {
	return linkseed.FillL2(ctx, l2cache.New(rdb, prefix, ttl), len(codes), links.source(codes), conc)
}
