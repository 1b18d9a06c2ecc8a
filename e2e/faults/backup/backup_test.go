//go:build faults

// Package backup is the backup-and-restore drill of issue 18's fault suite
// (docs/faults.md, "11. Backup and restore drill"): a 3-node control plane
// on PostgreSQL is backed up with `shortify backup` and pg_dump, the
// database taken after more links were created, so that it is ahead of
// the Raft backup (and after a key was revoked); both are restored into
// empty data directories and a new database, and the restored cluster
// must redirect every link, never issue a code or an ID it issued before,
// and refuse the key revoked after the backup.
package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shortify/shortify/client"
	"github.com/shortify/shortify/controlplane/fsm"
	"github.com/shortify/shortify/internal/apikey"
	"github.com/shortify/shortify/internal/backupfile"
	"github.com/shortify/shortify/internal/codegen"
	"github.com/shortify/shortify/internal/testkit/faults"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// The drill's sizes: links before the Raft backup, after it (before the
// database dump), and after the restore.
const (
	linksBefore = 300
	linksAfter  = 6000
	linksNew    = 6000
	bulkSize    = 500
)

// issued is every link the old cluster acknowledged.
type issued struct {
	url map[string]string // code -> target
	ids map[string]bool
}

func (is *issued) add(t *testing.T, l *client.Link) {
	t.Helper()
	if _, dup := is.url[l.Code]; dup {
		t.Fatalf("the old cluster issued code %s twice", l.Code)
	}
	if is.ids[l.ID] {
		t.Fatalf("the old cluster issued ID %s twice", l.ID)
	}
	is.url[l.Code], is.ids[l.ID] = l.URL, true
}

// createLinks creates n links through the nodes in turn, in bulk requests
// of bulkSize, and returns them: on the own host with the admin key, or
// on domain with key (the workspace's admin).
func createLinks(t *testing.T, c *cluster, tag string, n int, domain, key string) []client.Link {
	t.Helper()
	var out []client.Link
	for i := 0; len(out) < n; i++ {
		cl := c.client(t, c.nodes[i%len(c.nodes)])
		if key != "" {
			cl = c.clientAs(t, c.nodes[i%len(c.nodes)], key)
		}
		reqs := make([]client.CreateLinkRequest, min(bulkSize, n-len(out)))
		for j := range reqs {
			reqs[j] = client.CreateLinkRequest{URL: fmt.Sprintf("https://example.com/drill/%s/%d/%d", tag, i, j), Domain: domain}
		}
		resp, err := cl.CreateLinksBulk(context.Background(), reqs)
		if err != nil {
			t.Fatalf("bulk create on %s: %v", c.nodes[i%len(c.nodes)].id, err)
		}
		for _, r := range resp.Results {
			if r.Link == nil {
				t.Fatalf("bulk create on %s: a link failed: %+v", c.nodes[i%len(c.nodes)].id, r.Error)
			}
			out = append(out, *r.Link)
		}
	}
	return out
}

func TestFault11BackupRestore(t *testing.T) {
	pgDump := testenv.Command(t, "pg_dump", "postgresql-client")
	pgRestore := testenv.Command(t, "pg_restore", "postgresql-client")
	dir := t.TempDir()
	k, err := apikey.New()
	if err != nil {
		t.Fatal(err)
	}
	tlsFiles := clusterTLS(t, filepath.Join(dir, "cluster-tls"))
	suffix := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	oldDB := createDatabase(t, "shortify_drill_old_"+suffix)

	// 1. The old cluster, links, the Raft backup through a follower.
	old := startCluster(t, filepath.Join(dir, "old"), oldDB, k.Secret, "", tlsFiles)
	wsKey := customDomain(t, old)
	// A key the backup holds live, revoked after the backup: the restored
	// cluster must refuse it.
	gone, err := old.client(t, old.nodes[0]).CreateKey(context.Background(), client.CreateKeyRequest{Name: "revoked after the backup", Role: "creator", Workspace: "drill"})
	if err != nil {
		t.Fatalf("create the key to revoke: %v", err)
	}
	before := &issued{url: map[string]string{}, ids: map[string]bool{}}
	for _, l := range createLinks(t, old, "before", linksBefore, "", "") {
		before.add(t, &l)
	}
	backupPath := filepath.Join(dir, "raft.backup")
	cmd := exec.Command(testenv.Shortify(t), "backup", "--out", backupPath)
	cmd.Env = append(os.Environ(), "SHORTIFY_URL="+old.nodes[1].url, "SHORTIFY_API_KEY="+k.Secret)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("shortify backup: %v\n%s", err, out)
	}
	st, key := readBackup(t, backupPath)
	codec, err := codegen.New(key)
	if err != nil {
		t.Fatal(err)
	}

	// 2. The key revoked, more links, then the database dump: it is ahead
	// of the backup.
	if err := old.client(t, old.nodes[2]).RevokeKey(context.Background(), gone.ID); err != nil {
		t.Fatalf("revoke %s: %v", gone.ID, err)
	}
	for _, l := range createLinks(t, old, "after", linksAfter, "", "") {
		before.add(t, &l)
	}
	ahead := 0
	for code := range before.url {
		if s, err := codec.Seq(code); err == nil && s >= st.NextSequence {
			ahead++
		}
	}
	if ahead == 0 {
		t.Fatalf("no link of the dump has a code past the backup's sequence (%d): the drill would not test the floor", st.NextSequence)
	}
	dumpPath := filepath.Join(dir, "links.dump")
	if out, err := exec.Command(pgDump, "-Fc", "-f", dumpPath, oldDB).CombinedOutput(); err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, out)
	}
	old.stop(t)

	// 3. Restore both into a new database and empty data directories.
	newDB := createDatabase(t, "shortify_drill_new_"+suffix)
	restoreStart := time.Now()
	if out, err := exec.Command(pgRestore, "--no-owner", "-d", newDB, dumpPath).CombinedOutput(); err != nil {
		t.Fatalf("pg_restore: %v\n%s", err, out)
	}
	restored := startCluster(t, filepath.Join(dir, "new"), newDB, k.Secret, backupPath, tlsFiles)
	restoreSecs := time.Since(restoreStart).Seconds()

	// 4. Every link redirects, through the nodes' edge handlers in turn.
	noFollow := &http.Client{Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	checked, i := 0, 0
	for code, target := range before.url {
		n := restored.nodes[i%3]
		i++
		resp, err := noFollow.Get(n.url + "/" + code)
		if err != nil {
			t.Fatalf("GET /%s on %s: %v", code, n.id, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != target {
			t.Fatalf("GET /%s on %s: %d to %q, want 302 to %q", code, n.id, resp.StatusCode, resp.Header.Get("Location"), target)
		}
		checked++
	}

	// The key revoked after the backup is refused on every node; the
	// workspace's key, live in both, works (it makes links below).
	refused := 0
	for _, n := range restored.nodes {
		_, err := restored.clientAs(t, n, gone.Key).ListLinks(context.Background(), client.ListLinksQuery{})
		var p *client.Problem
		if !errors.As(err, &p) || p.Status != http.StatusUnauthorized {
			t.Errorf("the key revoked after the backup on %s: %v, want a 401 problem", n.id, err)
			continue
		}
		refused++
	}
	if !strings.Contains(restored.logs(t), "past the link database's mark") {
		t.Errorf("the restore did not use the database's sequence mark (logs of the restored nodes lack it)")
	}

	// 5. Many new links: no code and no ID issued before, and every new
	// ID above every old one (the worker timestamps moved past them).
	// The database refuses a repeated code on its domain and the create
	// silently takes the next one, so the codes' sequence numbers are
	// checked too: every new one must be past every old one (the old
	// links are all generated codes, no aliases).
	var maxOld int64
	for id := range before.ids {
		maxOld = max(maxOld, mustInt(t, id))
	}
	var maxOldSeq uint64
	for code := range before.url {
		maxOldSeq = max(maxOldSeq, seqOf(t, codec, code))
	}
	repeats, behind := 0, 0
	minNewSeq := uint64(1<<64 - 1)
	newCodes, newIDs := map[string]bool{}, map[string]bool{}
	// Half of them on the custom domain, where the database's key
	// (domain, code) would not refuse a code issued on the own host: a
	// repeat there is stored, and counted here.
	fresh := append(createLinks(t, restored, "new", linksNew/2, drillDomain, wsKey),
		createLinks(t, restored, "new", linksNew-linksNew/2, "", "")...)
	for _, l := range fresh {
		s := seqOf(t, codec, l.Code)
		minNewSeq = min(minNewSeq, s)
		if s <= maxOldSeq {
			behind++
		}
		if _, dup := before.url[l.Code]; dup || newCodes[l.Code] {
			repeats++
			t.Errorf("the restored cluster issued code %s again", l.Code)
		}
		if before.ids[l.ID] || newIDs[l.ID] {
			repeats++
			t.Errorf("the restored cluster issued ID %s again", l.ID)
		}
		if id := mustInt(t, l.ID); id <= maxOld {
			t.Errorf("new ID %d is not above the largest old one, %d", id, maxOld)
		}
		newCodes[l.Code], newIDs[l.ID] = true, true
	}
	// A repeated code on the same domain is caught by the database and
	// retried with the next code: the log tells of it.
	if n := strings.Count(restored.logs(t), "generated code was taken"); n > 0 {
		repeats += n
		t.Errorf("the restored cluster met %d codes already in the database", n)
	}

	if behind > 0 {
		t.Errorf("%d new codes have sequence numbers at or below the largest old one, %d (the smallest new one is %d): the restored sequence did not move past the database",
			behind, maxOldSeq, minNewSeq)
	}
	repeats += behind
	faults.Record(t, faults.Row{
		Fault: fmt.Sprintf("3-node cluster: Raft backup after %d links, pg_dump after %d more (%d codes past the backup's sequence); restore both into empty data dirs and a new database; %d new links, half on a custom domain",
			linksBefore, linksAfter, ahead, linksNew),
		Expected: "every link redirects; 0 codes or IDs repeated; every new code's sequence number past every old one; a key revoked after the backup refused",
		Measured: fmt.Sprintf("%d links restored, %d redirects checked, %d new links, repeats %d (new sequence numbers from %d, old up to %d; backup's %d; sequence mark read, no scan), revoked key refused on %d/3 nodes, restore %.1f s (pg_restore to 3 nodes ready)",
			len(before.url), checked, len(newCodes), repeats, minNewSeq, maxOldSeq, st.NextSequence, refused, restoreSecs),
	})
}

// drillDomain is the custom domain of the drill's workspace.
const drillDomain = "go.drill.test"

// customDomain makes the workspace "drill", an admin key of it and its
// verified custom domain drillDomain (the instance admin's PATCH
// verified:true: the name is in no DNS), and returns the key. The
// workspace, the key and the domain live in the FSM: the restored cluster
// must have them.
func customDomain(t *testing.T, c *cluster) string {
	t.Helper()
	ctx := context.Background()
	admin := c.client(t, c.nodes[0])
	if _, err := admin.CreateWorkspace(ctx, client.CreateWorkspaceRequest{Name: "drill"}); err != nil {
		t.Fatalf("create the workspace: %v", err)
	}
	k, err := admin.CreateKey(ctx, client.CreateKeyRequest{Name: "drill admin", Role: "admin", Workspace: "drill"})
	if err != nil {
		t.Fatalf("create the workspace's key: %v", err)
	}
	if _, err := c.clientAs(t, c.nodes[0], k.Key).CreateDomain(ctx, drillDomain); err != nil {
		t.Fatalf("register %s: %v", drillDomain, err)
	}
	verified := true
	if _, err := admin.UpdateDomain(ctx, drillDomain, client.UpdateDomainRequest{Verified: &verified}); err != nil {
		t.Fatalf("verify %s: %v", drillDomain, err)
	}
	// Every node must know the key and the verified domain before links
	// are made on it through them.
	for _, n := range c.nodes {
		cl := c.clientAs(t, n, k.Key)
		c.waitFor(t, n, "the verified domain", 30*time.Second, func() bool {
			d, err := cl.GetDomain(ctx, drillDomain)
			return err == nil && d.Verified
		})
	}
	return k.Key
}

// readBackup checks the file and returns its state and code key.
func readBackup(t *testing.T, path string) (fsm.State, []byte) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	_, payload, err := backupfile.Read(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("the backup file: %v", err)
	}
	var st fsm.State
	if err := json.Unmarshal(payload, &st); err != nil {
		t.Fatal(err)
	}
	return st, st.Key
}

// seqOf is the sequence number of a generated code.
func seqOf(t *testing.T, codec *codegen.Codec, code string) uint64 {
	t.Helper()
	s, err := codec.Seq(code)
	if err != nil {
		t.Fatalf("code %q: %v", code, err)
	}
	return s
}

func mustInt(t *testing.T, s string) int64 {
	t.Helper()
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("ID %q: %v", s, err)
	}
	return v
}
