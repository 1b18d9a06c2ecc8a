package cluster

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/shortify/shortify/controlplane/fsm"
	"github.com/shortify/shortify/internal/backupfile"
)

// TestBackupRestore backs up a one-node cluster, restores the file into a
// new node in an empty data directory with a floor past the numbers the
// old node issued after the backup, and checks that the new cluster has
// the old key and never issues a code the old one issued.
func TestBackupRestore(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	old := open(t, testConfig(t))
	issued := map[string]bool{}
	for range 50 {
		issued[must(t, "NextCode", old.NextCode)] = true
	}
	file, err := old.Backup(ctx, false)
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	h, payload, err := backupfile.Read(bytes.NewReader(file))
	if err != nil {
		t.Fatalf("read the backup: %v", err)
	}
	if h.NodeID != "n1" || h.Index == 0 || h.SnapshotVersion == 0 || len(payload) == 0 {
		t.Errorf("header %+v", h)
	}
	// After the backup: the old node issues more (it holds a block the
	// backup knows; a second block too, which it does not).
	for range 3000 {
		issued[must(t, "NextCode", old.NextCode)] = true
	}
	oldNext := old.fsm.NextSequence()
	path := filepath.Join(t.TempDir(), "backup.shortify")
	if err := os.WriteFile(path, file, 0o600); err != nil {
		t.Fatal(err)
	}

	cfg := testConfig(t)
	cfg.NodeID = "r1"
	var floorCalled bool
	cfg.Restore = &Restore{Path: path, Floor: func(_ context.Context, got backupfile.Header, st *fsm.State) error {
		floorCalled = got.SHA256 == h.SHA256
		st.RaiseFloors(oldNext, 0)
		return nil
	}}
	restored := open(t, cfg)
	if !floorCalled {
		t.Error("Floor was not called with the backup's header")
	}
	if !bytes.Equal(restored.fsm.Key(), old.fsm.Key()) {
		t.Fatal("the restored cluster has another code key")
	}
	for range 3000 {
		if c := must(t, "NextCode", restored.NextCode); issued[c] {
			t.Fatalf("the restored cluster issued %s again", c)
		}
	}
	if got := restored.fsm.State().Keys; len(got) != len(old.fsm.State().Keys) {
		t.Errorf("keys: %d restored, %d backed up", len(got), len(old.fsm.State().Keys))
	}

	// Started again with restore_from left in (and the file gone), the
	// node keeps its state: the option only seeds a new cluster.
	next := restored.fsm.NextSequence()
	if err := restored.Close(); err != nil {
		t.Fatal(err)
	}
	again := reopenConfig(cfg, restored)
	again.Restore = &Restore{Path: filepath.Join(t.TempDir(), "gone.backup")}
	reopened := open(t, again)
	if !bytes.Equal(reopened.fsm.Key(), old.fsm.Key()) || reopened.fsm.NextSequence() < next {
		t.Errorf("reopened: sequence %d (was %d), same key %v", reopened.fsm.NextSequence(), next, bytes.Equal(reopened.fsm.Key(), old.fsm.Key()))
	}
}

// TestRestoreRefusesADamagedFile checks that a changed byte stops the
// start with the checksum's message, before anything is issued.
func TestRestoreRefusesADamagedFile(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	old := open(t, testConfig(t))
	file, err := old.Backup(ctx, false)
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	file[len(file)-3] ^= 1
	path := filepath.Join(t.TempDir(), "backup.shortify")
	if err := os.WriteFile(path, file, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t)
	cfg.Restore = &Restore{Path: path}
	n, err := Open(ctx, cfg)
	if err == nil {
		n.Close()
		t.Fatal("Open restored a damaged backup")
	}
	if !bytes.Contains([]byte(err.Error()), []byte("SHA-256")) {
		t.Errorf("error %q does not name the checksum", err)
	}
}
