package cluster

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/shortify/shortify/controlplane/seqfloor"
)

// TestRecordBlockBeforeUse checks that every code a node hands out has a
// number at or below the link database's sequence mark at that moment
// (the mark is written before the block is used), and that a node whose
// mark cannot be written hands out no code at all.
func TestRecordBlockBeforeUse(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dsn := "sqlite://" + filepath.Join(t.TempDir(), "links.db")
	writer, err := seqfloor.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	reader, err := seqfloor.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	cfg := testConfig(t)
	cfg.BlockSize = 50 // many blocks
	cfg.RecordBlock = writer.RecordBlock
	n := open(t, cfg)
	covered := func(c string) {
		t.Helper()
		seq, err := n.codec.Seq(c)
		if err != nil {
			t.Fatal(err)
		}
		high, ok, err := reader.Mark(ctx)
		if err != nil || !ok || seq > high {
			t.Fatalf("code %s (number %d) handed out with the mark at %d (%v, %v)", c, seq, high, ok, err)
		}
	}
	for range 2000 {
		covered(mustCode(t, n))
	}

	// The database goes: the node uses up the blocks it recorded, then
	// runs out of numbers rather than hand out one the mark does not
	// cover.
	writer.Close()
	var last error
	for i := 0; last == nil; i++ {
		if i > 64*int(cfg.BlockSize)*8 {
			t.Fatalf("%d codes handed out after the mark became unwritable", i)
		}
		var c string
		if c, last = n.NextCode(); last == nil {
			covered(c)
		}
	}
	if !errors.Is(last, ErrNoSequence) {
		t.Fatalf("NextCode with the mark unwritable: %v, want ErrNoSequence", last)
	}
}
