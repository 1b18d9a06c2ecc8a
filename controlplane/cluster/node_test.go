package cluster

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/shortify/shortify/controlplane/clustertls"
	"github.com/shortify/shortify/controlplane/fsm"
)

func isBase62(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
			return false
		}
	}
	return true
}

func TestOneNodeIssuesIDsAndCodes(t *testing.T) {
	start := time.Now()
	n := open(t, testConfig(t))
	t.Logf("one-node cluster ready in %v", time.Since(start))

	if err := n.Ready(); err != nil {
		t.Fatalf("Ready: %v", err)
	}
	st := n.State()
	if st.RaftState != "Leader" || st.LeaderID != "n1" || st.LeaderAddr != st.Address || st.WorkerID != 0 || st.Term == 0 || st.AppliedIndex == 0 {
		t.Fatalf("State = %+v", st)
	}
	if st.LeaseExpires.IsZero() || st.LeaseExpires.Before(time.Now()) {
		t.Fatalf("lease expires %v", st.LeaseExpires)
	}

	var last int64
	for range 1000 {
		id := mustID(t, n)
		if id <= last {
			t.Fatalf("ID %d after %d", id, last)
		}
		if w := id >> 12 & 1023; w != int64(st.WorkerID) {
			t.Fatalf("ID %d has worker %d, want %d", id, w, st.WorkerID)
		}
		last = id
	}
	seen := map[string]bool{}
	for range 3000 { // crosses several blocks
		c := mustCode(t, n)
		if len(c) != 6 || !isBase62(c) || seen[c] {
			t.Fatalf("code %q (seen before: %v)", c, seen[c])
		}
		seen[c] = true
	}
	if n.fsm.Key() == nil || n.fsm.NextSequence() < 3000 {
		t.Fatalf("FSM: key %x, next sequence %d", n.fsm.Key(), n.fsm.NextSequence())
	}
}

func TestManyGoroutinesGetDistinctCodes(t *testing.T) {
	const count = 100_000
	cfg := testConfig(t)
	cfg.BlockSize = 500 // many refills, some callers wait for one
	n := open(t, cfg)

	codes := collect(t, 64, count, n.NextCode)
	assertDistinct(t, "code", codes)
	// Every code maps back to a number of a block this node was given.
	next := n.fsm.NextSequence()
	for _, c := range codes[:1000] {
		seq, err := n.codec.Seq(c)
		if err != nil || seq >= next {
			t.Fatalf("code %q: sequence %d (next %d): %v", c, seq, next, err)
		}
	}
	t.Logf("block size grew to %d; %d sequence numbers handed out for %d codes", n.seq.size, next, count)
}

func TestManyGoroutinesGetDistinctIDs(t *testing.T) {
	const count = 100_000
	n := open(t, testConfig(t))
	ids := collect(t, 64, count, n.NewID)
	assertDistinct(t, "ID", ids)
}

func TestRestartKeepsKeyAndMovesOn(t *testing.T) {
	cfg := testConfig(t)
	n := open(t, cfg)
	key := n.fsm.Key()
	code0, err := n.codec.Code(0)
	if err != nil {
		t.Fatal(err)
	}
	before := map[string]bool{}
	for range 2500 {
		before[mustCode(t, n)] = true
	}
	var maxID int64
	for range 1000 {
		maxID = max(maxID, mustID(t, n))
	}
	handedOut := n.fsm.NextSequence()
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}

	restarted := time.Now()
	n2 := open(t, reopenConfig(cfg, n))
	t.Logf("restarted node ready in %v", time.Since(restarted))
	if !bytes.Equal(n2.fsm.Key(), key) {
		t.Fatal("the key changed across a restart")
	}
	if c, _ := n2.codec.Code(0); c != code0 {
		t.Fatalf("Code(0) = %q after restart, %q before", c, code0)
	}
	for i := range 2500 {
		c := mustCode(t, n2)
		if before[c] {
			t.Fatalf("code %q issued again after restart", c)
		}
		if i == 0 {
			if seq, err := n2.codec.Seq(c); err != nil || seq < handedOut {
				t.Fatalf("first code after restart has sequence number %d, %d were handed out before: %v", seq, handedOut, err)
			}
		}
	}
	if id := mustID(t, n2); id <= maxID {
		t.Fatalf("ID %d after restart, %d before", id, maxID)
	}
	if w := n2.State().WorkerID; w != 0 {
		t.Fatalf("worker %d after restart, want its own 0 back", w)
	}
}

func TestRestartAfterSnapshot(t *testing.T) {
	cfg := testConfig(t)
	n := open(t, cfg)
	mustCode(t, n)
	if err := n.raft.Snapshot().Error(); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	want := n.fsm.State()
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	n2 := open(t, reopenConfig(cfg, n))
	got := n2.fsm.State()
	if !bytes.Equal(got.Key, want.Key) || got.NextSequence < want.NextSequence {
		t.Fatalf("after restore: %+v, before: %+v", got, want)
	}
}

// A node that crashes keeps its lease until it expires; when it comes back
// after that it gets the worker ID again and its IDs start after the old
// lease's end, even when its clock then steps back.
func TestLeaseExpiryAndReuseWithClockSetBack(t *testing.T) {
	clock := newFakeClock(time.Now())
	cfg := clockedConfig(t, clock)
	n := open(t, cfg)
	maxID := issueAfter(t, n, 0, nil)
	worker := n.State().WorkerID
	fence := n.leases.current().until.Load()
	fillWorkers(t, n) // the node's own worker ID is the only one to come free
	if err := n.shutdown(false); err != nil {
		t.Fatal(err)
	}

	clock.Advance(cfg.LeaseTTL + time.Second) // the lease has expired
	n2 := open(t, reopenConfig(cfg, n))
	if got := n2.State().WorkerID; got != worker {
		t.Fatalf("worker %d after expiry, want %d reused", got, worker)
	}
	w, _ := n2.fsm.Worker(uint16(worker))
	if w.HighMs < fence {
		t.Fatalf("reused worker starts after %d, the old lease ran to %d", w.HighMs, fence)
	}

	clock.Advance(-time.Hour)
	issueAfter(t, n2, maxID, func(id int64) {
		if ms := idMs(id); ms <= fence {
			t.Fatalf("ID timestamp %d inside the old lease (to %d)", ms, fence)
		}
	})
}

// A released worker ID comes back to its node, whose IDs continue after the
// last one even when its clock is an hour behind.
func TestReleaseAndReuseWithClockBehind(t *testing.T) {
	clock := newFakeClock(time.Now().Add(time.Hour))
	cfg := clockedConfig(t, clock)
	n := open(t, cfg)
	maxID := issueAfter(t, n, 0, nil)
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	w, _ := n.fsm.Worker(0)
	if w.Held || w.HighMs != idMs(maxID) {
		t.Fatalf("after release: %+v, last ID at %d", w, idMs(maxID))
	}

	clock.Advance(-time.Hour)
	n2 := open(t, reopenConfig(cfg, n))
	if got := n2.State().WorkerID; got != 0 {
		t.Fatalf("worker %d, want 0 back", got)
	}
	issueAfter(t, n2, maxID, nil)
}

func TestLeaseLapsesWithoutRenewal(t *testing.T) {
	clock := newFakeClock(time.Now())
	cfg := clockedConfig(t, clock)
	n := open(t, cfg)
	mustID(t, n)

	clock.Advance(cfg.LeaseTTL + time.Millisecond) // no renewal ran
	// State first: NewID's and Ready's failures wake the renewal loop,
	// which may bring the lease back at once (nobody took it).
	if w := n.State().WorkerID; w != -1 {
		t.Fatalf("State().WorkerID = %d without a lease", w)
	}
	if _, err := n.NewID(); !errors.Is(err, ErrNoLease) {
		t.Fatalf("NewID after the lease ran out: %v, want ErrNoLease", err)
	}
	// The renewal NewID woke may have run by now: then Ready is right to
	// pass, with the lease back.
	if err := n.Ready(); err == nil {
		if w := n.State().WorkerID; w != 0 {
			t.Fatalf("Ready passed with State().WorkerID = %d", w)
		}
	} else if !errors.Is(err, ErrNoLease) {
		t.Fatalf("Ready: %v, want ErrNoLease", err)
	}

	// Nobody took it: renewing brings it back.
	if err := n.renewLease(context.Background()); err != nil {
		t.Fatal(err)
	}
	mustID(t, n)
	if err := n.Ready(); err != nil {
		t.Fatal(err)
	}
}

func TestLostLeaseIsReplaced(t *testing.T) {
	clock := newFakeClock(time.Now())
	cfg := clockedConfig(t, clock)
	n := open(t, cfg)
	before := mustID(t, n)
	fillWorkers(t, n)

	// The lease runs out and another node takes the worker ID.
	clock.Advance(cfg.LeaseTTL + time.Second)
	resp, err := n.propose(context.Background(), fsm.AcquireLease{Node: "thief", NowMs: n.nowMs(), TTLMs: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if r := resp.(*fsm.LeaseResult); r.Err != nil || r.Worker != 0 {
		t.Fatalf("thief got %+v", r)
	}
	if _, err := n.NewID(); !errors.Is(err, ErrNoLease) {
		t.Fatalf("NewID after the lease ran out: %v", err)
	}
	// The renewal finds the lease gone and takes the one free worker ID.
	// (NewID's failure has woken the renewal loop too, so the test's
	// renewal and the loop's race for it; either may win.)
	releaseFiller(t, n, 7)
	eventually(t, 5*time.Second, "worker 7", func() bool {
		if n.State().WorkerID != 7 {
			_ = n.renewLease(context.Background())
		}
		return n.State().WorkerID == 7
	})
	if id := mustID(t, n); id <= before {
		t.Fatalf("ID %d after moving, %d before", id, before)
	}
}

func TestRenewLoopKeepsLease(t *testing.T) {
	cfg := testConfig(t)
	cfg.LeaseTTL = 300 * time.Millisecond // renewals every 100 ms; MinLeaseTTL leaves a loaded CI run too little slack
	n := open(t, cfg)
	first := n.leases.current().until.Load()
	eventually(t, 5*time.Second, "a renewal", func() bool {
		return n.leases.current().until.Load() > first
	})
	mustID(t, n)
}

func TestNoSequenceWhenRaftIsGone(t *testing.T) {
	cfg := testConfig(t)
	cfg.BlockSize = 10
	n := open(t, cfg)
	if err := n.raft.Shutdown().Error(); err != nil {
		t.Fatal(err)
	}
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		_, err = n.NextCode()
	}
	if !errors.Is(err, ErrNoSequence) {
		t.Fatalf("NextCode with Raft down: %v, want ErrNoSequence", err)
	}
	if err := n.Ready(); err == nil {
		t.Fatal("Ready with Raft down")
	}
}

func TestCloseIsIdempotentAndFinal(t *testing.T) {
	n := open(t, testConfig(t))
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := n.NewID(); !errors.Is(err, ErrNoLease) {
		t.Fatalf("NewID after Close: %v", err)
	}
	if _, err := n.NextCode(); !errors.Is(err, ErrNoSequence) || !errors.Is(err, ErrClosed) {
		t.Fatalf("NextCode after Close: %v", err)
	}
	if err := n.Ready(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Ready after Close: %v", err)
	}
	if st := n.State(); st.RaftState != "Shutdown" || st.WorkerID != -1 {
		t.Fatalf("State after Close: %+v", st)
	}
	w, _ := n.fsm.Worker(0)
	if w.Held {
		t.Fatalf("lease not released: %+v", w)
	}
}

func TestCloseLeavesNoGoroutines(t *testing.T) {
	base, _ := goroutines()
	cfg := testConfig(t)
	// A short lease, so the renewal loop runs while the codes and IDs are
	// taken; not the shortest (MinLeaseTTL, 100 ms), which a CI run that
	// starves the process for a moment let run out (NewID then failed).
	cfg.LeaseTTL = time.Second
	cfg.BlockSize = 10
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	n, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	collect(t, 8, 2000, n.NextCode)
	collect(t, 8, 2000, n.NewID)
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	checkGoroutines(t, base)
}

func TestFailedOpenLeavesNoGoroutines(t *testing.T) {
	base, _ := goroutines()
	cfg := testConfig(t)
	cfg.Bootstrap = false // no cluster, no leader
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := Open(ctx, cfg); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Open without a cluster: %v", err)
	}
	checkGoroutines(t, base)
}

func checkGoroutines(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, dump := goroutines()
		if n <= base {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after Close, %d before:\n%s", n, base, dump)
		}
		runtime.Gosched()
		<-time.After(5 * time.Millisecond)
	}
}

func TestConfigValidate(t *testing.T) {
	ca, err := clustertls.NewCA("test", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tc, err := ca.Config("n", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
		check   func(t *testing.T, c Config)
	}{
		{
			name: "defaults",
			cfg:  Config{DataDir: "/d", BindAddr: "10.0.0.1:7000", TLS: tc},
			check: func(t *testing.T, c Config) {
				if c.NodeID == "" || c.AdvertiseAddr != "10.0.0.1:7000" || c.LeaseTTL != DefaultLeaseTTL ||
					c.BlockSize != DefaultBlockSize || c.Logger == nil || c.Clock == nil {
					t.Fatalf("defaults not filled: %+v", c)
				}
			},
		},
		{
			name: "explicit values stay",
			cfg:  Config{NodeID: "a", DataDir: "/d", BindAddr: "0.0.0.0:7000", AdvertiseAddr: "node-a:7000", LeaseTTL: time.Minute, BlockSize: 5, TLS: tc},
			check: func(t *testing.T, c Config) {
				if c.NodeID != "a" || c.AdvertiseAddr != "node-a:7000" || c.LeaseTTL != time.Minute || c.BlockSize != 5 {
					t.Fatalf("values changed: %+v", c)
				}
			},
		},
		{name: "no data dir", cfg: Config{BindAddr: "127.0.0.1:7000"}, wantErr: "data directory"},
		{name: "no bind address", cfg: Config{DataDir: "/d"}, wantErr: "bind address is required"},
		{name: "bad bind address", cfg: Config{DataDir: "/d", BindAddr: "7000"}, wantErr: "bind address"},
		{name: "unspecified advertise", cfg: Config{DataDir: "/d", BindAddr: "0.0.0.0:7000"}, wantErr: "set AdvertiseAddr"},
		{name: "short TTL", cfg: Config{DataDir: "/d", BindAddr: "127.0.0.1:1", LeaseTTL: time.Millisecond}, wantErr: "lease TTL"},
		{name: "long TTL", cfg: Config{DataDir: "/d", BindAddr: "127.0.0.1:1", LeaseTTL: 48 * time.Hour}, wantErr: "lease TTL"},
		{name: "huge block", cfg: Config{DataDir: "/d", BindAddr: "127.0.0.1:1", BlockSize: fsm.MaxBlockSize + 1}, wantErr: "block size"},
		{name: "long node ID", cfg: Config{NodeID: strings.Repeat("x", 200), DataDir: "/d", BindAddr: "127.0.0.1:1"}, wantErr: "node ID"},
		{name: "node ID with a space", cfg: Config{NodeID: "a b", DataDir: "/d", BindAddr: "127.0.0.1:1"}, wantErr: "node ID"},
		{
			name: "cluster settings normalised",
			cfg: Config{DataDir: "/d", BindAddr: "127.0.0.1:1", APIAddr: "10.0.0.5:8301", Join: []string{"https://10.0.0.1:8301/", " https://cp.example "},
				TLS: tc},
			check: func(t *testing.T, c Config) {
				if c.APIAddr != "https://10.0.0.5:8301" || c.Join[0] != "https://10.0.0.1:8301" || c.Join[1] != "https://cp.example" {
					t.Fatalf("not normalised: %q %q", c.APIAddr, c.Join)
				}
			},
		},
		{name: "join without API address", cfg: Config{DataDir: "/d", BindAddr: "127.0.0.1:1", Join: []string{"https://10.0.0.1:8301"}, TLS: tc}, wantErr: "needs an API address"},
		{name: "bad join address", cfg: Config{DataDir: "/d", BindAddr: "127.0.0.1:1", APIAddr: "https://h:1", Join: []string{"ftp://x"}, TLS: tc}, wantErr: "join address"},
		{name: "plain http join address", cfg: Config{DataDir: "/d", BindAddr: "127.0.0.1:1", APIAddr: "https://h:1", Join: []string{"http://x:8080"}, TLS: tc}, wantErr: "must be an https URL"},
		{name: "join address with a path", cfg: Config{DataDir: "/d", BindAddr: "127.0.0.1:1", APIAddr: "https://h:1", Join: []string{"https://x/api"}, TLS: tc}, wantErr: "scheme and a host only"},
		{name: "bad API address", cfg: Config{DataDir: "/d", BindAddr: "127.0.0.1:1", APIAddr: "https://h:99999", TLS: tc}, wantErr: "API address"},
		{name: "unspecified API address", cfg: Config{DataDir: "/d", BindAddr: "127.0.0.1:1", APIAddr: "https://0.0.0.0:8080", TLS: tc}, wantErr: "not reachable"},
		// Without cluster TLS nothing proves a peer is a member: a node
		// takes no peers at all.
		{name: "join without TLS", cfg: Config{DataDir: "/d", BindAddr: "127.0.0.1:1", APIAddr: "https://h:1", Join: []string{"https://x:1"}}, wantErr: "joining a cluster needs cluster TLS"},
		{name: "API address without TLS", cfg: Config{DataDir: "/d", BindAddr: "127.0.0.1:1", APIAddr: "https://h:1"}, wantErr: "needs cluster TLS"},
		{name: "public Raft address without TLS", cfg: Config{DataDir: "/d", BindAddr: "0.0.0.0:8300", AdvertiseAddr: "10.0.0.5:8300"}, wantErr: "not a loopback address"},
		{name: "public advertise address without TLS", cfg: Config{DataDir: "/d", BindAddr: "127.0.0.1:8300", AdvertiseAddr: "node-a:8300"}, wantErr: "not a loopback address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.cfg
			err := c.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				tt.check(t, c)
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate() = %v, want an error about %q", err, tt.wantErr)
			}
		})
	}
}
