package fsm

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"

	"github.com/hashicorp/raft"
)

func TestRaiseFloors(t *testing.T) {
	tests := []struct {
		name        string
		st          State
		seq         uint64
		ms          int64
		wantChanged bool
		wantNext    uint64
	}{
		{"nothing to move", State{NextSequence: 500}, 400, 0, false, 500},
		{"sequence moves", State{NextSequence: 500}, 900, 0, true, 900},
		{"capped", State{NextSequence: 500}, MaxSequence + 10, 0, true, MaxSequence},
		{"timestamps move", State{NextSequence: 500, Workers: []WorkerState{{ID: 3, Holder: "n1", Held: true, Gen: 2, HighMs: 10}}}, 0, 99, true, 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := tt.st
			if got := st.RaiseFloors(tt.seq, tt.ms); got != tt.wantChanged {
				t.Errorf("changed = %v, want %v", got, tt.wantChanged)
			}
			if st.NextSequence != tt.wantNext {
				t.Errorf("NextSequence = %d, want %d", st.NextSequence, tt.wantNext)
			}
			if tt.ms <= 0 {
				return
			}
			if len(st.Workers) != NumWorkers {
				t.Fatalf("%d workers listed, want all %d", len(st.Workers), NumWorkers)
			}
			for i, w := range st.Workers {
				if int(w.ID) != i || w.HighMs < tt.ms || w.Gen == 0 {
					t.Fatalf("worker %d: %+v", i, w)
				}
			}
			if w := st.Workers[3]; w.Holder != "n1" || w.Gen != 2 || !w.Held {
				t.Errorf("worker 3 lost its lease record: %+v", w)
			}
		})
	}
}

// TestRaiseFloorsRestoresAndLeasesAfter checks that a state with raised
// floors restores, and that a lease of any worker ID starts after the
// floor, however early the clock of the node asking.
func TestRaiseFloorsRestoresAndLeasesAfter(t *testing.T) {
	f := New()
	st := f.State()
	st.Key = bytes.Repeat([]byte{7}, KeySize)
	st.RaiseFloors(12345, 1_000_000)
	g := restoredFrom(t, st)
	if g.NextSequence() != 12345 {
		t.Errorf("NextSequence = %d", g.NextSequence())
	}
	cmd, err := Encode(AcquireLease{Node: "fresh", TTLMs: 1000, NowMs: 5})
	if err != nil {
		t.Fatal(err)
	}
	r := g.Apply(&raft.Log{Index: 1, Data: cmd}).(*LeaseResult)
	if r.Err != nil || r.NotAfterMs < 1_000_000 {
		t.Errorf("lease %+v: want one starting after 1000000", r)
	}
}

// TestRevokeRestores checks that the revocations recorded after a backup
// hold in the FSM restored from it: a key the backup holds live is
// revoked, one revoked before keeps its time, one it does not hold is
// ignored.
func TestRevokeRestores(t *testing.T) {
	f := New()
	key := func(id string) KeyEntry {
		return KeyEntry{ID: id, Name: id, Role: "admin", Hash: bytes.Repeat([]byte{1}, KeyHashLen), CreatedMs: 10}
	}
	live, gone, old := key("aaaaaaaaaaaa"), key("bbbbbbbbbbbb"), key("cccccccccccc")
	for i, k := range []KeyEntry{live, gone, old} {
		cmd, err := Encode(AddKey{Key: k})
		if err != nil {
			t.Fatal(err)
		}
		if r := f.Apply(&raft.Log{Index: uint64(i + 1), Data: cmd}).(*KeyResult); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	cmd, err := Encode(RevokeKey{ID: old.ID, AtMs: 20})
	if err != nil {
		t.Fatal(err)
	}
	if r := f.Apply(&raft.Log{Index: 4, Data: cmd}).(*KeyResult); r.Err != nil {
		t.Fatal(r.Err)
	}
	st := f.State()
	st.Key = bytes.Repeat([]byte{7}, KeySize)
	if n := st.Revoke(map[string]int64{gone.ID: 30, old.ID: 40, "unknown": 50}); n != 1 {
		t.Errorf("revoked %d keys, want 1", n)
	}
	g := restoredFrom(t, st)
	for _, c := range []struct {
		id   string
		want int64
	}{{live.ID, 0}, {gone.ID, 30}, {old.ID, 20}} {
		if k, ok := g.APIKey(c.id); !ok || k.RevokedMs != c.want {
			t.Errorf("key %s: %+v, %v; want revoked at %d", c.id, k, ok, c.want)
		}
	}
}

// restoredFrom is a new FSM restored from st, as from a backup.
func restoredFrom(t *testing.T, st State) *FSM {
	t.Helper()
	data, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	g := New()
	if err := g.Restore(io.NopCloser(bytes.NewReader(data))); err != nil {
		t.Fatalf("restore: %v", err)
	}
	return g
}
