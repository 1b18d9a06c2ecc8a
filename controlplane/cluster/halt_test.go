package cluster

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/shortify/shortify/controlplane/fsm"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// futureCommand is an acquire-lease command as a newer release writes it
// when it sets a field this release does not know and must not ignore.
var futureCommand = append([]byte{byte(fsm.TypeAcquireLease)},
	`{"_min_version":99,"node":"n9","now_ms":1,"ttl_ms":1000,"jitter_ms":5}`...)

// A node that meets a command from a newer release in its log does not
// panic and does not skip it: the proposal fails with the FSM's error, the
// node leaves the cluster (Raft shut down), and it refuses to start again
// with a message naming the command and the version it needs.
func TestNewerCommandStopsNodeAndRefusesStart(t *testing.T) {
	cfg := testConfig(t)
	n, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Close() })
	mustCode(t, n)
	before := n.fsm.State()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = n.applyLocal(ctx, futureCommand)
	var ae *fsm.ApplyError
	if !errors.As(err, &ae) || ae.Need != 99 || ae.Type != fsm.TypeAcquireLease {
		t.Fatalf("applying a newer command: %v, want an *fsm.ApplyError needing version 99", err)
	}
	testenv.WaitFor(t, "Raft to shut down after the FSM halted", 10*time.Second,
		func() bool { return n.raft.State() == raft.Shutdown })
	if got := n.fsm.State(); got.NextSequence != before.NextSequence || len(got.Workers) != len(before.Workers) {
		t.Fatalf("the halted node's state moved on: %+v, before %+v", got, before)
	}
	_ = n.Close() // may report that the lease could not be released

	// The same release again: it replays the entry and refuses to start,
	// at once rather than when its start-up deadline runs out.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel2()
	started := time.Now()
	n2, err := Open(ctx2, reopenConfig(cfg, n))
	if err == nil {
		_ = n2.Close()
		t.Fatal("a node that cannot apply its log started")
	}
	t.Logf("refused to start after %s: %v", time.Since(started), err)
	for _, want := range []string{"acquire-lease command", "needs command version 99", "upgrade this node"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("start error %q does not say %q", err, want)
		}
	}
	if took := time.Since(started); took > 20*time.Second {
		t.Errorf("refusing to start took %s", took)
	}
}
