package fsm

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

// memSink is a raft.SnapshotSink in memory; it can be told to fail writes.
type memSink struct {
	bytes.Buffer
	failWrite bool
	closed    bool
	cancelled bool
}

func (s *memSink) Write(p []byte) (int, error) {
	if s.failWrite {
		return 0, errors.New("disk full")
	}
	return s.Buffer.Write(p)
}
func (s *memSink) Close() error  { s.closed = true; return nil }
func (s *memSink) ID() string    { return "mem" }
func (s *memSink) Cancel() error { s.cancelled = true; return nil }

func persist(t *testing.T, f *FSM) *memSink {
	t.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Release()
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	if !sink.closed || sink.cancelled {
		t.Fatalf("sink closed=%v cancelled=%v", sink.closed, sink.cancelled)
	}
	return sink
}

func restoreState(t *testing.T, f *FSM, st State) {
	t.Helper()
	s, err := stateFrom(st)
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.s = s
	f.mu.Unlock()
}

func TestSnapshotRestore(t *testing.T) {
	for _, n := range []int{0, 10, 3000} {
		a := newApplier(t)
		for _, data := range randomLog(t, uint64(n), n) {
			a.raw(data)
		}
		want := a.f.State()
		sink := persist(t, a.f)

		b := newApplier(t)
		b.apply(InitCluster{Key: key(9)}) // state to be replaced
		if err := b.f.Restore(io.NopCloser(&sink.Buffer)); err != nil {
			t.Fatalf("%d entries: restore: %v", n, err)
		}
		if got := b.f.State(); !reflect.DeepEqual(got, want) {
			t.Fatalf("%d entries: restored state differs:\n got %+v\nwant %+v", n, got, want)
		}
	}
}

func TestSnapshotThenLogEqualsLog(t *testing.T) {
	log := randomLog(t, 7, 4000)
	full := newApplier(t)
	for _, data := range log {
		full.raw(data)
	}
	half := newApplier(t)
	for _, data := range log[:len(log)/2] {
		half.raw(data)
	}
	sink := persist(t, half.f)
	// Entries applied after Snapshot must not leak into it.
	half.raw(log[len(log)/2])

	resumed := newApplier(t)
	if err := resumed.f.Restore(io.NopCloser(&sink.Buffer)); err != nil {
		t.Fatal(err)
	}
	for _, data := range log[len(log)/2:] {
		resumed.raw(data)
	}
	if !reflect.DeepEqual(resumed.f.State(), full.f.State()) {
		t.Fatal("snapshot + rest of the log differs from the whole log")
	}
}

func TestPersistCancelsOnError(t *testing.T) {
	a := newApplier(t)
	a.apply(InitCluster{Key: key(1)})
	snap, err := a.f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	sink := &memSink{failWrite: true}
	if err := snap.Persist(sink); err == nil {
		t.Fatal("Persist succeeded on a failing sink")
	}
	if !sink.cancelled || sink.closed {
		t.Fatalf("sink cancelled=%v closed=%v, want cancelled only", sink.cancelled, sink.closed)
	}
}

func TestRestoreRejectsBadSnapshots(t *testing.T) {
	tests := map[string]string{
		"not JSON":            `{`,
		"wrong version":       `{"version":8}`,
		"v5 with catalogue":   `{"version":5,"partitions":[{"table":"clicks","name":"clicks_y2026m01","from_ms":1,"to_ms":2,"state":"created"}]}`,
		"bad catalogue name":  `{"version":6,"partitions":[{"table":"clicks","name":"Clicks x","from_ms":1,"to_ms":2,"state":"created"}]}`,
		"bad catalogue range": `{"version":6,"partitions":[{"table":"clicks","name":"clicks_y2026m01","from_ms":2,"to_ms":2,"state":"created"}]}`,
		"bad catalogue state": `{"version":6,"partitions":[{"table":"clicks","name":"clicks_y2026m01","from_ms":1,"to_ms":2,"state":"gone"}]}`,
		"duplicate partition": `{"version":6,"partitions":[{"table":"clicks","name":"p","from_ms":1,"to_ms":2,"state":"created"},{"table":"clicks","name":"p","from_ms":1,"to_ms":2,"state":"dropped"}]}`,
		"v4 with policy":      `{"version":4,"partition_policy":{"months_ahead":3,"retention_days":400}}`,
		"bad policy months":   `{"version":5,"partition_policy":{"months_ahead":25,"retention_days":400}}`,
		"bad policy days":     `{"version":5,"partition_policy":{"months_ahead":3,"retention_days":0}}`,
		"v3 with blocklist":   `{"version":3,"blocked_domains":["a.example"]}`,
		"bad blocked domain":  `{"version":4,"blocked_domains":["A b"]}`,
		"v2 with keys":        `{"version":2,"keys":[{"id":"AAAAAAAAAAAA","name":"n","role":"admin","hash":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","created_ms":1}]}`,
		"key without hash":    `{"version":3,"keys":[{"id":"AAAAAAAAAAAA","name":"n","role":"admin","created_ms":1}]}`,
		"key bad role":        `{"version":3,"keys":[{"id":"AAAAAAAAAAAA","name":"n","role":"root","hash":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","created_ms":1}]}`,
		"v1 with nodes":       `{"version":1,"nodes":[{"id":"a","raft_addr":"h:1"}]}`,
		"node without ID":     `{"version":2,"nodes":[{"raft_addr":"h:1"}]}`,
		"node no address":     `{"version":2,"nodes":[{"id":"a"}]}`,
		"duplicate node":      `{"version":2,"nodes":[{"id":"a","raft_addr":"h:1"},{"id":"a","raft_addr":"h:2"}]}`,
		"no version":          `{}`,
		"short key":           `{"version":1,"key":"AAAA"}`,
		"worker ID range":     `{"version":1,"workers":[{"id":1024,"gen":1}]}`,
		"duplicate worker":    `{"version":1,"workers":[{"id":3,"gen":1},{"id":3,"gen":2}]}`,
		"generation zero":     `{"version":1,"workers":[{"id":3}]}`,
		"sequence too far":    `{"version":1,"next_sequence":9223372036854775809}`,
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			a := newApplier(t)
			a.apply(InitCluster{Key: key(1)})
			a.apply(AcquireLease{Node: "a", NowMs: 1, TTLMs: 1000})
			before := a.f.State()
			if err := a.f.Restore(io.NopCloser(strings.NewReader(data))); err == nil {
				t.Fatal("Restore accepted a bad snapshot")
			}
			if !reflect.DeepEqual(a.f.State(), before) {
				t.Fatal("a failed Restore changed the state")
			}
		})
	}
}

// A version 1 snapshot (before the node registry) still restores.
func TestRestoreVersion1(t *testing.T) {
	a := newApplier(t)
	a.apply(RegisterNode{ID: "gone", RaftAddr: "h:1"})
	v1 := `{"version":1,"key":"` + strings.Repeat("A", 43) + `=","next_sequence":42,"workers":[{"id":3,"holder":"a","held":true,"gen":2,"expires_ms":9,"high_ms":5}]}`
	if err := a.f.Restore(io.NopCloser(strings.NewReader(v1))); err != nil {
		t.Fatal(err)
	}
	got := a.f.State()
	want := State{Version: snapshotVersion, Key: make([]byte, KeySize), NextSequence: 42,
		Workers:    []WorkerState{{ID: 3, Holder: "a", Held: true, Gen: 2, ExpiresMs: 9, HighMs: 5}},
		Workspaces: []Workspace{defaultWorkspace()}, LastWorkspaceID: 1}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("restored %+v, want %+v", got, want)
	}
	if _, ok := a.f.Node("gone"); ok {
		t.Fatal("the registry survived a restore of a snapshot without one")
	}
}
