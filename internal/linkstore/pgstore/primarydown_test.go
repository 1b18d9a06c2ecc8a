package pgstore

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/linkstore/storetest"
	"github.com/shortify/shortify/internal/testkit/procs"
)

// TestReplicaServesWhilePrimaryDown runs a private primary with a
// streaming replica (processes of their own, so that the primary can be
// stopped), stops the primary, and makes one replica check fail (the
// replica's processes stopped with SIGSTOP past the check timeout). The
// replica must come back into rotation and serve Lookup while the
// primary is still down, and stay there past the lag bound (issue 18,
// fault 2: it used to stay out until the primary returned, and every
// uncached redirect answered 503).
func TestReplicaServesWhilePrimaryDown(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	bin, err := procs.PGBinDir("")
	if err != nil {
		t.Fatal(err)
	}
	// Not t.TempDir: the postgres user (when this runs as root) must get
	// through its parents.
	dir, err := os.MkdirTemp("", "shortify-pgstore-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	addr := func() string {
		p, err := procs.FreePort("127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		return "127.0.0.1:" + strconv.Itoa(p)
	}
	primary, err := procs.InitPrimary(ctx, procs.PGConfig{Dir: filepath.Join(dir, "primary"), Addr: addr(), BinDir: bin})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { primary.Stop() })
	replica, err := procs.StartReplica(ctx, procs.ReplicaConfig{
		PGConfig:   procs.PGConfig{Dir: filepath.Join(dir, "replica"), Addr: addr(), BinDir: bin},
		PrimaryDSN: primary.DSN("postgres"),
		AppName:    "pgstore-primary-down",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		signalServer(t, replica.Pid(), syscall.SIGCONT)
		replica.Stop()
	})

	o := options{maxLag: 500 * time.Millisecond, checkInterval: 20 * time.Millisecond, checkTimeout: 300 * time.Millisecond}
	s := openFast(t, linkstore.Config{
		DSN: primary.DSN("postgres"), ReadDSNs: []string{replica.DSN("postgres")}, Migrate: true,
	}, o)
	l := storetest.NewLink()
	if err := s.Create(ctx, l); err != nil {
		t.Fatal(err)
	}
	// On the replica and in rotation: a Lookup is a replica hit.
	waitFor(t, "the link served by the replica", 30*time.Second, func() bool {
		before := s.ReplicaStats().ReplicaHits
		got, err := s.Lookup(ctx, "", l.Code)
		return err == nil && got.URL == l.URL && s.ReplicaStats().ReplicaHits > before
	})

	if err := primary.Stop(); err != nil {
		t.Fatal(err)
	}
	// One failed check: the whole replica stopped past the check timeout.
	signalServer(t, replica.Pid(), syscall.SIGSTOP)
	waitRotation(t, s, false)
	signalServer(t, replica.Pid(), syscall.SIGCONT)
	waitRotation(t, s, true)
	// It stays in rotation past the lag bound, the primary still down: a
	// deliberate duration, then the state.
	<-time.After(4 * o.maxLag)
	if got := inRotation(s); !got[0] {
		t.Fatalf("the replica left the rotation %v after the primary went down: %+v", 4*o.maxLag, s.ReplicaStats().Replicas)
	}
	before := s.ReplicaStats().ReplicaHits
	got, err := s.Lookup(ctx, "", l.Code)
	if err != nil || got.URL != l.URL {
		t.Fatalf("Lookup with the primary down: %+v, %v", got, err)
	}
	if s.ReplicaStats().ReplicaHits != before+1 {
		t.Errorf("the lookup was not served by the replica: %+v", s.ReplicaStats())
	}
	// A code the replica does not know cannot be confirmed: an error, not
	// a miss.
	if _, err := s.Lookup(ctx, "", "nosuch"); err == nil {
		t.Errorf("Lookup of an unknown code with the primary down answered a miss; want an error")
	}
}

// signalServer sends sig to a PostgreSQL server: its postmaster (pid) and
// every child of it. (Each child is a process group of its own, so the
// postmaster's group alone would leave the sessions answering.)
func signalServer(t *testing.T, pid int, sig syscall.Signal) {
	t.Helper()
	if err := syscall.Kill(pid, sig); err != nil {
		t.Fatalf("signal %d: %v", pid, err)
	}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, st := range stats {
		b, err := os.ReadFile(st)
		if err != nil {
			continue // it exited
		}
		// pid (comm) state ppid ...: comm may hold spaces, so after ")".
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			child, _ := strconv.Atoi(filepath.Base(filepath.Dir(st)))
			_ = syscall.Kill(child, sig)
		}
	}
}

// TestLagTrackerReplicaWentBack: a replica whose replay position goes
// back (another server at its address) is measured afresh, unknown until
// it replays a new sample; a replica that only failed checks keeps its
// samples.
func TestLagTrackerReplicaWentBack(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	for _, tc := range []struct {
		name      string
		replay    int64 // after samples 100 (t0), 200 (t1), 300 (t2), replayed up to 200 first
		wantLag   time.Duration
		wantKnown bool
	}{
		{"further on", 250, 1 * time.Second, true}, // the 300 sample is 1 s old at t3
		{"same place", 200, 1 * time.Second, true}, // unchanged
		{"went back", 150, 0, false},               // reset: no sample to measure it by
		{"caught up", 300, 0, true},                // nothing left unreplayed
	} {
		t.Run(tc.name, func(t *testing.T) {
			var lt lagTracker
			lt.sample(at(0), 100)
			lt.sample(at(1), 200)
			lt.sample(at(2), 300)
			if _, known := lt.lag(at(2), 200); !known {
				t.Fatal("not synced after replaying a sample")
			}
			lag, known := lt.lag(at(3), tc.replay)
			if lag != tc.wantLag || known != tc.wantKnown {
				t.Errorf("lag %v known %v, want %v %v", lag, known, tc.wantLag, tc.wantKnown)
			}
			if lt.lastSampled != at(2) {
				t.Errorf("lastSampled %v, want %v", lt.lastSampled, at(2))
			}
		})
	}
}
