//go:build faults

package upgrade

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shortify/shortify/client"
	"github.com/shortify/shortify/controlplane/fsm"
	"github.com/shortify/shortify/internal/testkit/stack"
)

// migration is one row of a store's migrations table.
type migration struct {
	Name      string
	AppliedAt time.Time
}

// migrationTables reads every migrations table of the database at dsn
// (the link store's, the block set's, the domain mirror's, the webhooks',
// the stats schema's: each a table named *migrations with the columns
// version, name and applied_at) into table → version → row.
func migrationTables(ctx context.Context, dsn string) (map[string]map[int]migration, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `
SELECT table_schema, table_name FROM information_schema.columns
 WHERE table_name LIKE '%migrations' AND column_name IN ('version', 'name', 'applied_at')
 GROUP BY 1, 2 HAVING count(*) = 3 ORDER BY 1, 2`)
	if err != nil {
		return nil, fmt.Errorf("list the migrations tables: %w", err)
	}
	names, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (pgx.Identifier, error) {
		var schema, table string
		err := r.Scan(&schema, &table)
		return pgx.Identifier{schema, table}, err
	})
	if err != nil {
		return nil, fmt.Errorf("list the migrations tables: %w", err)
	}
	out := map[string]map[int]migration{}
	for _, id := range names {
		rows, err := conn.Query(ctx, "SELECT version, name, applied_at FROM "+id.Sanitize())
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", id.Sanitize(), err)
		}
		m := map[int]migration{}
		var version int
		var row migration
		_, err = pgx.ForEachRow(rows, []any{&version, &row.Name, &row.AppliedAt}, func() error {
			if _, dup := m[version]; dup {
				return fmt.Errorf("version %d recorded twice", version)
			}
			m[version] = row
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", id.Sanitize(), err)
		}
		out[strings.Join(id, ".")] = m
	}
	return out, nil
}

// checkMigrations compares the migrations tables before and after the
// upgrade: every row there before is there unchanged (applied once, not
// again), and a version added by the new release was applied once,
// during the upgrade. It returns how many rows the upgrade added.
func checkMigrations(t *testing.T, db string, before, after map[string]map[int]migration, began time.Time) int {
	t.Helper()
	added := 0
	for table, rows := range before {
		if _, ok := after[table]; !ok {
			t.Errorf("%s: the migrations table %s is gone", db, table)
		}
		for v, r := range rows {
			if got, ok := after[table][v]; !ok || got != r {
				t.Errorf("%s: %s version %d was %+v before the upgrade, %+v after", db, table, v, r, got)
			}
		}
	}
	for table, rows := range after {
		for v, r := range rows {
			if _, ok := before[table][v]; ok {
				continue
			}
			added++
			if r.AppliedAt.Before(began) {
				t.Errorf("%s: %s version %d (%s) applied at %v, before the upgrade began (%v)", db, table, v, r.Name, r.AppliedAt, began)
			}
			t.Logf("%s: the upgrade applied %s version %d (%s)", db, table, v, r.Name)
		}
	}
	return added
}

// sourceCommandVersion reads fsm.CommandVersion from a release's source
// tree, for a release whose GET /api/v1/cluster does not report it.
func sourceCommandVersion(src string) (int, error) {
	b, err := os.ReadFile(filepath.Join(src, "controlplane", "fsm", "version.go"))
	if err != nil {
		return 0, err
	}
	m := regexp.MustCompile(`(?m)^const CommandVersion = (\d+)$`).FindSubmatch(b)
	if m == nil {
		return 0, fmt.Errorf("%s: no const CommandVersion", src)
	}
	return strconv.Atoi(string(m[1]))
}

// clusterView is what one node reports of the cluster.
type clusterView struct {
	node string
	info *client.ClusterInfo
}

// clusterViews asks every control-plane node for its view.
func clusterViews(ctx context.Context, s *stack.Stack) ([]clusterView, error) {
	var out []clusterView
	for _, n := range s.Nodes {
		c, err := client.New(n.URL, client.WithAPIKey(s.APIKey), client.WithRetries(0, 0))
		if err != nil {
			return nil, err
		}
		info, err := c.Cluster(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n.Name, err)
		}
		out = append(out, clusterView{node: n.Name, info: info})
	}
	return out, nil
}

// settled fails unless every node sees the same leader, three voters and
// a valid worker lease of its own (distinct from the others'), and has
// applied its log as far as the leader's commit index was in an earlier
// look (prev, asked before views).
func settled(prev, views []clusterView) error {
	var leaderCommit uint64
	for _, v := range prev {
		if v.info.NodeID == v.info.LeaderID {
			leaderCommit = v.info.CommitIndex
		}
	}
	if leaderCommit == 0 {
		return fmt.Errorf("no node led in the look before")
	}
	leader, workers := "", map[int]string{}
	for _, v := range views {
		if v.info.LeaderID == "" || (leader != "" && v.info.LeaderID != leader) {
			return fmt.Errorf("%s sees leader %q", v.node, v.info.LeaderID)
		}
		leader = v.info.LeaderID
		voters := 0
		for _, m := range v.info.Nodes {
			if m.Suffrage == "voter" {
				voters++
			}
		}
		if voters != 3 || len(v.info.Nodes) != 3 {
			return fmt.Errorf("%s sees %d members, %d voters", v.node, len(v.info.Nodes), voters)
		}
		if v.info.WorkerID < 0 {
			return fmt.Errorf("%s holds no worker lease", v.node)
		}
		if other, dup := workers[v.info.WorkerID]; dup {
			return fmt.Errorf("%s and %s both hold worker ID %d", other, v.node, v.info.WorkerID)
		}
		workers[v.info.WorkerID] = v.node
		if v.info.AppliedIndex < leaderCommit {
			return fmt.Errorf("%s applied %d of the leader's %d", v.node, v.info.AppliedIndex, leaderCommit)
		}
	}
	return nil
}

// commandVersions are the versions the nodes report; a node of a release
// that does not report one counts as fallback.
func commandVersions(views []clusterView, fallback int) map[string]int {
	out := map[string]int{}
	for _, v := range views {
		out[v.node] = v.info.CommandVersion
		if out[v.node] == 0 {
			out[v.node] = fallback
		}
	}
	return out
}

// currentCommandVersion is this tree's, for the messages.
const currentCommandVersion = fsm.CommandVersion
