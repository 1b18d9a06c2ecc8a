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
	data, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	g := New()
	if err := g.Restore(io.NopCloser(bytes.NewReader(data))); err != nil {
		t.Fatalf("restore: %v", err)
	}
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
