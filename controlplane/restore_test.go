package controlplane

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/controlplane/cluster"
	"github.com/shortify/shortify/controlplane/fsm"
	"github.com/shortify/shortify/controlplane/seqfloor"
	"github.com/shortify/shortify/internal/apikey"
	"github.com/shortify/shortify/internal/backupfile"
	"github.com/shortify/shortify/internal/testkit/teststore"
)

// TestRevocationsSurviveRestore revokes a key through the API's key ring
// of a running node, which records it in the link database first, then
// restores a backup taken before the revocation through restore_from's
// floor: the key comes back revoked, and the sequence moves past the mark
// the node wrote for its blocks.
func TestRevocationsSurviveRestore(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	path := filepath.Join(t.TempDir(), "links.db")
	teststore.SQLiteFile(t, path) // the links table, as the service opens it first
	dsn := "sqlite://" + path
	ledger, err := seqfloor.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer ledger.Close()
	node, err := cluster.Open(ctx, cluster.Config{NodeID: "solo", DataDir: t.TempDir(), BindAddr: "127.0.0.1:0",
		Bootstrap: true, BlockSize: 100, RecordBlock: ledger.RecordBlock, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer node.Close()
	keys := ledgerKeys{nodeKeys{node}, ledger}
	var ids []string
	for _, name := range []string{"kept", "revoked"} {
		k, err := apikey.New()
		if err != nil {
			t.Fatal(err)
		}
		if err := keys.AddKey(ctx, api.KeyRecord{ID: k.ID, Name: name, Role: apikey.Creator, Hash: k.Hash, CreatedAt: time.Now(), Workspace: 1}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, k.ID)
	}
	backup, err := node.Backup(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	for range 250 { // three blocks of 100 past the backup
		if _, err := node.NextCode(); err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := keys.RevokeKey(ctx, ids[1], time.Now()); !ok || err != nil {
		t.Fatalf("revoke: %v, %v", ok, err)
	}
	if ok, err := keys.RevokeKey(ctx, "nosuchkey123", time.Now()); ok || err != nil {
		t.Fatalf("revoke an unknown key: %v, %v", ok, err)
	}
	high, _, err := ledger.Mark(ctx)
	if err != nil {
		t.Fatal(err)
	}

	h, payload, err := backupfile.Read(bytes.NewReader(backup))
	if err != nil {
		t.Fatal(err)
	}
	var st fsm.State
	if err := json.Unmarshal(payload, &st); err != nil {
		t.Fatal(err)
	}
	r := restoreFrom(serviceConfig{RestoreFrom: "unused", Database: dsn}, ledger, slog.New(slog.DiscardHandler))
	if err := r.Floor(ctx, h, &st); err != nil {
		t.Fatal(err)
	}
	if st.NextSequence != high+1 {
		t.Errorf("NextSequence %d after the restore, want the mark %d + 1", st.NextSequence, high)
	}
	revoked := map[string]bool{}
	for _, k := range st.Keys {
		revoked[k.ID] = k.Revoked()
	}
	if revoked[ids[0]] || !revoked[ids[1]] {
		t.Errorf("revoked after the restore: %v; want %s only", revoked, ids[1])
	}
	if recorded, err := ledger.Revocations(ctx); err != nil || len(recorded) != 1 {
		t.Errorf("revocations recorded: %v, %v; want the known key's alone", recorded, err)
	}
}
