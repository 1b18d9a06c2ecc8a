package procs

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestPrivatePrimaryAndReplica: a private cluster made with initdb takes
// a write that its streaming replica then serves, and both stop cleanly.
func TestPrivatePrimaryAndReplica(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	bin, err := PGBinDir("")
	if err != nil {
		t.Fatal(err)
	}
	dir := openTempDir(t)
	addr := func() string {
		p, err := FreePort("127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		return "127.0.0.1:" + strconv.Itoa(p)
	}
	primary, err := InitPrimary(ctx, PGConfig{Dir: filepath.Join(dir, "primary"), Addr: addr(), BinDir: bin})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { primary.Stop() })
	if err := primary.Query(ctx, "CREATE TABLE seen (v int); INSERT INTO seen VALUES (42)"); err != nil {
		t.Fatal(err)
	}
	replica, err := StartReplica(ctx, ReplicaConfig{
		PGConfig:   PGConfig{Dir: filepath.Join(dir, "replica"), Addr: addr(), BinDir: bin},
		PrimaryDSN: primary.DSN("postgres"),
		AppName:    "procs-test",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := primary.Query(ctx, "INSERT INTO seen VALUES (43)"); err != nil {
		t.Fatal(err)
	}
	if err := Poll(ctx, "the second row on the replica", 10*time.Millisecond, replica.Process, func(ctx context.Context) error {
		var n int
		if err := replica.Query(ctx, "SELECT count(*) FROM seen", &n); err != nil {
			return err
		}
		if n != 2 {
			return fmt.Errorf("%d rows", n)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := replica.Stop(); err != nil {
		t.Error(err)
	}
	if err := primary.Stop(); err != nil {
		t.Error(err)
	}
}
