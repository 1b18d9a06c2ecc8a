package fsm

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/hashicorp/raft"
)

// applier applies commands to an FSM with increasing log indexes.
type applier struct {
	t     testing.TB
	f     *FSM
	index uint64
}

func newApplier(t testing.TB) *applier { return &applier{t: t, f: New()} }

func (a *applier) raw(data []byte) any {
	a.index++
	return a.f.Apply(&raft.Log{Index: a.index, Term: 1, Type: raft.LogCommand, Data: data})
}

func (a *applier) apply(c Command) any {
	a.t.Helper()
	data, err := Encode(c)
	if err != nil {
		a.t.Fatalf("encode %T: %v", c, err)
	}
	return a.raw(data)
}

// applyAs applies c and asserts the FSM's response is an R, the one
// check every typed helper below shares.
func applyAs[R any](a *applier, c Command) R {
	a.t.Helper()
	resp := a.apply(c)
	r, ok := resp.(R)
	if !ok {
		a.t.Fatalf("%T: response is %T, not %T", c, resp, r)
	}
	return r
}

func (a *applier) lease(c Command) *LeaseResult { return applyAs[*LeaseResult](a, c) }

func (a *applier) block(c AllocateBlock) *BlockResult { return applyAs[*BlockResult](a, c) }

func key(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func checkErr(t *testing.T, got, want error) {
	t.Helper()
	if want == nil && got != nil || want != nil && !errors.Is(got, want) {
		t.Fatalf("error = %v, want %v", got, want)
	}
}

func TestInitCluster(t *testing.T) {
	tests := []struct {
		name    string
		before  [][]byte // keys applied first
		key     []byte
		wantKey []byte
		wantErr error
	}{
		{name: "first init sets the key", key: key(1), wantKey: key(1)},
		{name: "second init returns the existing key", before: [][]byte{key(1)}, key: key(2), wantKey: key(1), wantErr: ErrAlreadyInitialised},
		{name: "short key", key: key(1)[:16], wantErr: ErrInvalidCommand},
		{name: "nil key", key: nil, wantErr: ErrInvalidCommand},
		{name: "bad key after init changes nothing", before: [][]byte{key(3)}, key: []byte{1}, wantErr: ErrInvalidCommand},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApplier(t)
			for _, k := range tt.before {
				a.apply(InitCluster{Key: k})
			}
			before := a.f.Key()
			r := a.apply(InitCluster{Key: tt.key}).(*InitResult)
			checkErr(t, r.Err, tt.wantErr)
			if !bytes.Equal(r.Key, tt.wantKey) {
				t.Fatalf("response key = %x, want %x", r.Key, tt.wantKey)
			}
			want := tt.wantKey
			if tt.wantErr == ErrInvalidCommand {
				want = before
			}
			if got := a.f.Key(); !bytes.Equal(got, want) {
				t.Fatalf("FSM key = %x, want %x", got, want)
			}
		})
	}
}

func TestInitClusterKeyIsCopied(t *testing.T) {
	a := newApplier(t)
	r := a.apply(InitCluster{Key: key(7)}).(*InitResult)
	r.Key[0] = 99
	k := a.f.Key()
	k[1] = 99
	if !bytes.Equal(a.f.Key(), key(7)) {
		t.Fatal("FSM key changed through a returned slice")
	}
}

// step is one command of a lease scenario and what it must answer.
type step struct {
	cmd        Command
	wantErr    error
	wantWorker int   // -1: don't check
	wantAfter  int64 // NotAfterMs, -1: don't check
	wantExp    int64 // ExpiresMs, -1: don't check
}

func ok(cmd Command, worker int, after, exp int64) step {
	return step{cmd: cmd, wantWorker: worker, wantAfter: after, wantExp: exp}
}

func fails(cmd Command, err error) step {
	return step{cmd: cmd, wantErr: err, wantWorker: -1, wantAfter: -1, wantExp: -1}
}

func runSteps(t *testing.T, a *applier, steps []step) {
	t.Helper()
	for i, s := range steps {
		r := a.lease(s.cmd)
		if s.wantErr != nil || r.Err != nil {
			if !errors.Is(r.Err, s.wantErr) {
				t.Fatalf("step %d %T: error = %v, want %v", i, s.cmd, r.Err, s.wantErr)
			}
			continue
		}
		if s.wantWorker >= 0 && int(r.Worker) != s.wantWorker {
			t.Fatalf("step %d %T: worker = %d, want %d", i, s.cmd, r.Worker, s.wantWorker)
		}
		if s.wantAfter >= 0 && r.NotAfterMs != s.wantAfter {
			t.Fatalf("step %d %T: NotAfterMs = %d, want %d", i, s.cmd, r.NotAfterMs, s.wantAfter)
		}
		if s.wantExp >= 0 && r.ExpiresMs != s.wantExp {
			t.Fatalf("step %d %T: ExpiresMs = %d, want %d", i, s.cmd, r.ExpiresMs, s.wantExp)
		}
	}
}

// fill leases every worker ID from fromID on to node "filler" until expMs.
func fill(t *testing.T, a *applier, fromID int, nowMs, ttlMs int64) {
	t.Helper()
	for i := fromID; i < NumWorkers; i++ {
		r := a.lease(AcquireLease{Node: fmt.Sprintf("filler-%d", i), NowMs: nowMs, TTLMs: ttlMs})
		if r.Err != nil {
			t.Fatalf("fill worker %d: %v", i, r.Err)
		}
	}
}

func TestAcquireLease(t *testing.T) {
	const ttl = 30_000
	tests := []struct {
		name  string
		setup func(t *testing.T, a *applier)
		steps []step
	}{
		{
			name: "free IDs in order",
			steps: []step{
				ok(AcquireLease{Node: "a", NowMs: 1000, TTLMs: ttl}, 0, 0, 1000+ttl),
				ok(AcquireLease{Node: "b", NowMs: 1000, TTLMs: ttl}, 1, 0, 1000+ttl),
				ok(AcquireLease{Node: "a", NowMs: 1000, TTLMs: ttl}, 2, 0, 1000+ttl),
			},
		},
		{
			name: "a node gets its released ID back and starts after its last timestamp",
			steps: []step{
				ok(AcquireLease{Node: "a", NowMs: 1000, TTLMs: ttl}, 0, 0, -1),
				ok(AcquireLease{Node: "b", NowMs: 1000, TTLMs: ttl}, 1, 0, -1),
				ok(ReleaseLease{Node: "b", Worker: 1, Gen: 1, LastMs: 5000}, 1, 5000, -1),
				ok(AcquireLease{Node: "b", NowMs: 6000, TTLMs: ttl}, 1, 5000, 6000+ttl),
			},
		},
		{
			name: "another node prefers a never-used ID to a released one",
			steps: []step{
				ok(AcquireLease{Node: "a", NowMs: 1000, TTLMs: ttl}, 0, 0, -1),
				ok(ReleaseLease{Node: "a", Worker: 0, Gen: 1, LastMs: 5000}, 0, 5000, -1),
				ok(AcquireLease{Node: "b", NowMs: 6000, TTLMs: ttl}, 1, 0, 6000+ttl),
			},
		},
		{
			name: "live leases are never handed out",
			setup: func(t *testing.T, a *applier) {
				fill(t, a, 0, 1000, ttl)
			},
			steps: []step{
				fails(AcquireLease{Node: "x", NowMs: 1000 + ttl, TTLMs: ttl}, ErrNoFreeWorker),
				fails(AcquireLease{Node: "filler-3", NowMs: 1000, TTLMs: ttl}, ErrNoFreeWorker),
			},
		},
		{
			name: "an expired lease is reused after its expiry even when the holder reported less",
			setup: func(t *testing.T, a *applier) {
				a.lease(AcquireLease{Node: "a", NowMs: 1000, TTLMs: ttl})
				a.lease(RenewLease{Node: "a", Worker: 0, Gen: 1, NowMs: 2000, TTLMs: ttl, LastMs: 1990})
				fill(t, a, 1, 1000, 10*ttl)
			},
			steps: []step{
				ok(AcquireLease{Node: "x", NowMs: 2000 + ttl + 1, TTLMs: ttl}, 0, 2000+ttl, 2000+ttl+1+ttl),
				fails(RenewLease{Node: "a", Worker: 0, Gen: 1, NowMs: 2000 + ttl + 2, TTLMs: ttl, LastMs: 2000}, ErrNotHolder),
			},
		},
		{
			name: "a reused ID starts after its history even when the new holder's clock is behind",
			setup: func(t *testing.T, a *applier) {
				a.lease(AcquireLease{Node: "a", NowMs: 1_000_000, TTLMs: ttl})
				a.lease(ReleaseLease{Node: "a", Worker: 0, Gen: 1, LastMs: 1_000_500})
				fill(t, a, 1, 0, 10*ttl)
			},
			steps: []step{
				// x's clock says 100: it must still start after 1_000_500,
				// and its lease fence is counted from there.
				ok(AcquireLease{Node: "x", NowMs: 100, TTLMs: ttl}, 0, 1_000_500, 1_000_500+ttl),
			},
		},
		{
			name: "a node gets its own expired lease back, after its expiry",
			steps: []step{
				ok(AcquireLease{Node: "a", NowMs: 1000, TTLMs: ttl}, 0, 0, 1000+ttl),
				ok(AcquireLease{Node: "b", NowMs: 1000, TTLMs: ttl}, 1, 0, -1),
				// a restarts before its lease expires: a fresh ID.
				ok(AcquireLease{Node: "a", NowMs: 2000, TTLMs: ttl}, 2, 0, -1),
				// and once more after both its leases expired: the latest.
				ok(AcquireLease{Node: "a", NowMs: 1000 + 2*ttl, TTLMs: ttl}, 2, 2000+ttl, 1000+3*ttl),
			},
		},
		{
			name: "invalid arguments",
			steps: []step{
				fails(AcquireLease{Node: "", NowMs: 1, TTLMs: ttl}, ErrInvalidCommand),
				fails(AcquireLease{Node: "a", NowMs: 1, TTLMs: 0}, ErrInvalidCommand),
				fails(AcquireLease{Node: "a", NowMs: 1, TTLMs: -5}, ErrInvalidCommand),
				fails(AcquireLease{Node: "a", NowMs: 1, TTLMs: MaxTTLMs + 1}, ErrInvalidCommand),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApplier(t)
			if tt.setup != nil {
				tt.setup(t, a)
			}
			runSteps(t, a, tt.steps)
		})
	}
}

func TestRenewLease(t *testing.T) {
	const ttl = 30_000
	acquireA := func(t *testing.T, a *applier) {
		a.lease(AcquireLease{Node: "a", NowMs: 1000, TTLMs: ttl})
	}
	tests := []struct {
		name  string
		setup func(t *testing.T, a *applier)
		steps []step
		check func(t *testing.T, w WorkerState)
	}{
		{
			name:  "extends the lease and records the last timestamp",
			setup: acquireA,
			steps: []step{ok(RenewLease{Node: "a", Worker: 0, Gen: 1, NowMs: 11_000, TTLMs: ttl, LastMs: 10_990}, 0, 10_990, 11_000+ttl)},
			check: func(t *testing.T, w WorkerState) {
				if !w.Held || w.HighMs != 10_990 || w.ExpiresMs != 11_000+ttl {
					t.Fatalf("worker = %+v", w)
				}
			},
		},
		{
			name:  "expiry never moves back and the high mark never drops",
			setup: acquireA,
			steps: []step{
				ok(RenewLease{Node: "a", Worker: 0, Gen: 1, NowMs: 50_000, TTLMs: ttl, LastMs: 49_000}, 0, 49_000, 50_000+ttl),
				ok(RenewLease{Node: "a", Worker: 0, Gen: 1, NowMs: 5_000, TTLMs: ttl, LastMs: 4_000}, 0, 49_000, 50_000+ttl),
			},
		},
		{
			name:  "fence counts from the last timestamp when it is ahead of the clock",
			setup: acquireA,
			steps: []step{ok(RenewLease{Node: "a", Worker: 0, Gen: 1, NowMs: 2000, TTLMs: ttl, LastMs: 90_000}, 0, 90_000, 90_000+ttl)},
		},
		{
			name:  "an expired lease nobody took can still be renewed",
			setup: acquireA,
			steps: []step{ok(RenewLease{Node: "a", Worker: 0, Gen: 1, NowMs: 1000 + 5*ttl, TTLMs: ttl, LastMs: 1000}, 0, 1000, 1000+6*ttl)},
		},
		{
			name:  "another node",
			setup: acquireA,
			steps: []step{fails(RenewLease{Node: "b", Worker: 0, Gen: 1, NowMs: 2000, TTLMs: ttl}, ErrNotHolder)},
		},
		{
			name:  "another generation",
			setup: acquireA,
			steps: []step{fails(RenewLease{Node: "a", Worker: 0, Gen: 2, NowMs: 2000, TTLMs: ttl}, ErrNotHolder)},
		},
		{
			name:  "a worker never leased",
			setup: acquireA,
			steps: []step{fails(RenewLease{Node: "a", Worker: 5, Gen: 0, NowMs: 2000, TTLMs: ttl}, ErrNotHolder)},
		},
		{
			name: "after release",
			setup: func(t *testing.T, a *applier) {
				acquireA(t, a)
				a.lease(ReleaseLease{Node: "a", Worker: 0, Gen: 1, LastMs: 1500})
			},
			steps: []step{fails(RenewLease{Node: "a", Worker: 0, Gen: 1, NowMs: 2000, TTLMs: ttl}, ErrNotHolder)},
			check: func(t *testing.T, w WorkerState) {
				if w.Held || w.HighMs != 1500 {
					t.Fatalf("worker = %+v", w)
				}
			},
		},
		{
			name:  "worker ID out of range",
			setup: acquireA,
			steps: []step{fails(RenewLease{Node: "a", Worker: NumWorkers, Gen: 1, NowMs: 2000, TTLMs: ttl}, ErrInvalidCommand)},
		},
		{
			name:  "bad TTL changes nothing",
			setup: acquireA,
			steps: []step{fails(RenewLease{Node: "a", Worker: 0, Gen: 1, NowMs: 2000, TTLMs: 0, LastMs: 1999}, ErrInvalidCommand)},
			check: func(t *testing.T, w WorkerState) {
				if w.HighMs != 0 || w.ExpiresMs != 1000+ttl {
					t.Fatalf("worker = %+v", w)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApplier(t)
			tt.setup(t, a)
			runSteps(t, a, tt.steps)
			if tt.check != nil {
				w, err := a.f.Worker(0)
				if err != nil {
					t.Fatal(err)
				}
				tt.check(t, w)
			}
		})
	}
}

func TestReleaseLease(t *testing.T) {
	const ttl = 30_000
	tests := []struct {
		name  string
		steps []step
	}{
		{
			name: "release then reacquire starts after the reported timestamp",
			steps: []step{
				ok(AcquireLease{Node: "a", NowMs: 1000, TTLMs: ttl}, 0, 0, -1),
				ok(ReleaseLease{Node: "a", Worker: 0, Gen: 1, LastMs: 7000}, 0, 7000, 0),
				ok(AcquireLease{Node: "a", NowMs: 3000, TTLMs: ttl}, 0, 7000, 7000+ttl),
			},
		},
		{
			name: "a smaller last timestamp never lowers the high mark",
			steps: []step{
				ok(AcquireLease{Node: "a", NowMs: 1000, TTLMs: ttl}, 0, 0, -1),
				ok(RenewLease{Node: "a", Worker: 0, Gen: 1, NowMs: 9000, TTLMs: ttl, LastMs: 8000}, 0, 8000, -1),
				ok(ReleaseLease{Node: "a", Worker: 0, Gen: 1, LastMs: 10}, 0, 8000, 0),
			},
		},
		{
			name: "twice",
			steps: []step{
				ok(AcquireLease{Node: "a", NowMs: 1000, TTLMs: ttl}, 0, 0, -1),
				ok(ReleaseLease{Node: "a", Worker: 0, Gen: 1, LastMs: 1000}, 0, 1000, 0),
				fails(ReleaseLease{Node: "a", Worker: 0, Gen: 1, LastMs: 1000}, ErrNotHolder),
			},
		},
		{
			name: "a stale release does not free the next lease",
			steps: []step{
				ok(AcquireLease{Node: "a", NowMs: 1000, TTLMs: ttl}, 0, 0, -1),
				ok(ReleaseLease{Node: "a", Worker: 0, Gen: 1, LastMs: 1000}, 0, 1000, 0),
				ok(AcquireLease{Node: "a", NowMs: 2000, TTLMs: ttl}, 0, 1000, 2000+ttl),
				fails(ReleaseLease{Node: "a", Worker: 0, Gen: 1, LastMs: 1000}, ErrNotHolder),
				ok(ReleaseLease{Node: "a", Worker: 0, Gen: 2, LastMs: 2500}, 0, 2500, 0),
			},
		},
		{
			name: "not the holder",
			steps: []step{
				ok(AcquireLease{Node: "a", NowMs: 1000, TTLMs: ttl}, 0, 0, -1),
				fails(ReleaseLease{Node: "b", Worker: 0, Gen: 1, LastMs: 1000}, ErrNotHolder),
				fails(ReleaseLease{Node: "a", Worker: 9999, Gen: 1, LastMs: 1000}, ErrInvalidCommand),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runSteps(t, newApplier(t), tt.steps)
		})
	}
}

func TestAllocateBlock(t *testing.T) {
	tests := []struct {
		name      string
		next      uint64 // sequence before the command
		cmd       AllocateBlock
		wantStart uint64
		wantEnd   uint64
		wantErr   error
	}{
		{name: "first block", cmd: AllocateBlock{Node: "a", Size: 1000}, wantStart: 0, wantEnd: 1000},
		{name: "follows the last block", next: 5000, cmd: AllocateBlock{Node: "b", Size: 1}, wantStart: 5000, wantEnd: 5001},
		{name: "largest size", next: 7, cmd: AllocateBlock{Node: "a", Size: MaxBlockSize}, wantStart: 7, wantEnd: 7 + MaxBlockSize},
		{name: "size zero", cmd: AllocateBlock{Node: "a", Size: 0}, wantErr: ErrInvalidCommand},
		{name: "too large", cmd: AllocateBlock{Node: "a", Size: MaxBlockSize + 1}, wantErr: ErrInvalidCommand},
		{name: "no node", cmd: AllocateBlock{Size: 10}, wantErr: ErrInvalidCommand},
		{name: "end of the sequence", next: MaxSequence - 5, cmd: AllocateBlock{Node: "a", Size: 10}, wantErr: ErrSequenceExhausted},
		{name: "at the end", next: MaxSequence, cmd: AllocateBlock{Node: "a", Size: 1}, wantErr: ErrSequenceExhausted},
		{name: "exactly to the end", next: MaxSequence - 10, cmd: AllocateBlock{Node: "a", Size: 10}, wantStart: MaxSequence - 10, wantEnd: MaxSequence},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApplier(t)
			if tt.next != 0 {
				restoreState(t, a.f, State{Version: snapshotVersion, NextSequence: tt.next})
			}
			r := a.block(tt.cmd)
			checkErr(t, r.Err, tt.wantErr)
			if r.Start != tt.wantStart || r.End != tt.wantEnd {
				t.Fatalf("block = [%d, %d), want [%d, %d)", r.Start, r.End, tt.wantStart, tt.wantEnd)
			}
			want := tt.next
			if tt.wantErr == nil {
				want = tt.wantEnd
			}
			if got := a.f.NextSequence(); got != want {
				t.Fatalf("NextSequence = %d, want %d", got, want)
			}
		})
	}
}

func TestBlocksAreDisjoint(t *testing.T) {
	a := newApplier(t)
	var next uint64
	for i := range 1000 {
		size := uint64(i%97 + 1)
		r := a.block(AllocateBlock{Node: fmt.Sprintf("n%d", i%3), Size: size})
		if r.Err != nil || r.Start != next || r.End != next+size {
			t.Fatalf("block %d = %+v, want [%d, %d)", i, r, next, next+size)
		}
		next = r.End
	}
}

// An entry Apply cannot apply halts the FSM: no panic, no change, the
// same error for every later entry, no snapshot, and Halted closed.
func TestBadCommandsHalt(t *testing.T) {
	valid, err := Encode(AllocateBlock{Node: "a", Size: 1})
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string][]byte{
		"empty":             nil,
		"unknown type":      append([]byte{200}, valid[1:]...),
		"type zero":         append([]byte{0}, valid[1:]...),
		"not JSON":          append([]byte{byte(TypeAllocateBlock)}, "{oops"...),
		"wrong field type":  append([]byte{byte(TypeAllocateBlock)}, `{"node":"a","size":"ten"}`...),
		"trailing data":     append(bytes.Clone(valid), `{}`...),
		"no payload":        {byte(TypeInitCluster)},
		"array not object":  append([]byte{byte(TypeAcquireLease)}, `[1,2]`...),
		"negative worker":   append([]byte{byte(TypeRenewLease)}, `{"node":"a","worker":-1}`...),
		"worker over 16bit": append([]byte{byte(TypeReleaseLease)}, `{"node":"a","worker":70000}`...),
		"bad min version":   append([]byte{byte(TypeAllocateBlock)}, `{"_min_version":"x","node":"a","size":1}`...),
	}
	for name, data := range tests {
		t.Run(name, func(t *testing.T) {
			a := newApplier(t)
			a.block(AllocateBlock{Node: "a", Size: 5})
			before := a.f.State()
			resp := a.raw(data)
			var ae *ApplyError
			if err, ok := resp.(error); !ok || !errors.As(err, &ae) {
				t.Fatalf("Apply answered %#v, want an *ApplyError", resp)
			}
			if ae.Index != a.index {
				t.Fatalf("ApplyError names index %d, want %d", ae.Index, a.index)
			}
			select {
			case <-a.f.Halted():
			default:
				t.Fatal("Halted not closed")
			}
			if a.f.Err() != error(ae) {
				t.Fatalf("Err() = %v, want %v", a.f.Err(), ae)
			}
			// A valid command after the halt is not applied either.
			if r, ok := a.raw(valid).(*ApplyError); !ok || r != ae {
				t.Fatalf("after the halt Apply answered %#v, want the first *ApplyError", r)
			}
			if !reflect.DeepEqual(a.f.State(), before) {
				t.Fatal("state changed")
			}
			if _, err := a.f.Snapshot(); err == nil {
				t.Fatal("a halted FSM took a snapshot")
			}
		})
	}
}
