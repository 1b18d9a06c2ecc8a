package fsm

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// goldenLog is a fixed log that touches every part of the state. The
// golden snapshots in testdata were written by the release named in their
// file name after applying it; they are never regenerated, so that every
// later release proves it restores them.
func goldenLog() []Command {
	return []Command{
		InitCluster{Key: key(7)},
		AcquireLease{Node: "a", NowMs: 1000, TTLMs: 5000},
		AcquireLease{Node: "b", NowMs: 1001, TTLMs: 5000},
		RenewLease{Node: "a", Worker: 0, Gen: 1, NowMs: 2000, TTLMs: 5000, LastMs: 1990},
		ReleaseLease{Node: "b", Worker: 1, Gen: 1, LastMs: 1500},
		AllocateBlock{Node: "a", Size: 1000},
		RegisterNode{ID: "a", RaftAddr: "10.0.0.1:8300", APIAddr: "http://10.0.0.1:8080"},
		RegisterNode{ID: "b", RaftAddr: "10.0.0.2:8300"},
		AddKey{Key: testKey("AAAAAAAAAAAA", "admin", 1), OnlyIfNone: true},
		AddKey{Key: testKey("BBBBBBBBBBBB", "viewer", 2)},
		AddKey{Key: testKey("CCCCCCCCCCCC", "creator", 3)},
		AddKey{Key: testKey("DDDDDDDDDDDD", "admin", 4)},
		RevokeKey{ID: "CCCCCCCCCCCC", AtMs: 5},
		SetDomainBlocked{Domain: "evil.example", Blocked: true},
		SetPartitionPolicy{Policy: PartitionPolicy{MonthsAhead: 3, RetentionDays: 400}},
		RecordPartitions{AtMs: 10, Partitions: []PartitionRecord{
			{Table: "clicks", Name: "clicks_y2026m01", FromMs: 1, ToMs: 2, State: PartitionCreated},
		}},
	}
}

// goldenLogV7 is goldenLog and what snapshot format 7 added: workspaces,
// keys of workspaces, custom domains.
func goldenLogV7() []Command {
	limits := WorkspaceLimits{MaxLinks: 1000, CreatesPerMinute: 60, MaxDomains: 3}
	return append(goldenLog(),
		CreateWorkspace{Name: "acme", Limits: limits, AtMs: 20},
		CreateWorkspace{Name: "gone", AtMs: 21},
		CreateWorkspace{Name: "beta", AtMs: 22},
		UpdateWorkspace{ID: 4, Name: "beta-2"},
		UpdateWorkspace{ID: 1, Limits: &WorkspaceLimits{MaxLinks: 5}},
		DeleteWorkspace{ID: 3},
		AddKey{Key: withWorkspace(testKey("EEEEEEEEEEEE", "admin", 23), 2)},
		AddKey{Key: withWorkspace(testKey("FFFFFFFFFFFF", "viewer", 24), 4)},
		AddDomain{Domain: "go.acme.example", Workspace: 2, Challenge: challenge, AtMs: 25},
		AddDomain{Domain: "xn--bcher-kva.example", Workspace: 4, Challenge: challenge + "x", AtMs: 26,
			Settings: DomainSettings{RootRedirect: "https://beta.example/", RedirectStatus: 301}},
		VerifyDomain{Domain: "go.acme.example", Workspace: 2, AtMs: 27},
		SetDomainSettings{Domain: "go.acme.example", Workspace: 2, Settings: DomainSettings{NotFoundRedirect: "https://acme.example/404"}},
		AddDomain{Domain: "old.acme.example", Workspace: 2, Challenge: challenge, AtMs: 28},
		DeleteDomain{Domain: "old.acme.example", Workspace: 2},
	)
}

// goldenState applies goldenLog to a new FSM.
func goldenState(t *testing.T) *FSM { return goldenStateOf(t, goldenLog()) }

// goldenStateOf applies log to a new FSM; every command must succeed.
func goldenStateOf(t *testing.T, log []Command) *FSM {
	t.Helper()
	a := newApplier(t)
	for _, c := range log {
		if r, ok := a.apply(c).(response); ok && r.businessErr() != nil {
			t.Fatalf("golden log: %T refused: %v", c, r.businessErr())
		}
	}
	return a.f
}

// A snapshot of every earlier release restores to the state this release
// reaches by replaying the log that made it: both upgrade paths (restore
// and replay) agree.
func TestGoldenSnapshotsRestore(t *testing.T) {
	for name, log := range map[string][]Command{"snapshot-v6.json": goldenLog(), "snapshot-v7.json": goldenLogV7()} {
		t.Run(name, func(t *testing.T) {
			want := goldenStateOf(t, log).State()
			data, err := os.ReadFile(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			f := New()
			if err := f.Restore(readCloser(bytes.NewReader(data))); err != nil {
				t.Fatal(err)
			}
			if got := f.State(); !reflect.DeepEqual(got, want) {
				t.Fatalf("restored\n %+v\nreplayed\n %+v", got, want)
			}
			// It is written back byte for byte: format 7 by this release,
			// format 6 because a state without workspaces is snapshotted
			// in the older format (legacyForm), which the release before
			// restores.
			if got := persist(t, f).Bytes(); !bytes.Equal(got, data) {
				t.Fatalf("the snapshot written from %s differs from it:\n%s", name, got)
			}
		})
	}
}

// TestWriteGolden writes the golden snapshot of this release (of
// goldenLogV7; a later release that adds to the state adds its own log)
// when
// SHORTIFY_WRITE_GOLDEN names a file that does not exist yet (never over
// an existing one).
func TestWriteGolden(t *testing.T) {
	name := os.Getenv("SHORTIFY_WRITE_GOLDEN")
	if name == "" {
		return
	}
	path := filepath.Join("testdata", name)
	if _, err := os.Stat(path); err == nil {
		t.Fatalf("%s exists; golden snapshots are never rewritten", path)
	}
	if err := os.WriteFile(path, persist(t, goldenStateOf(t, goldenLogV7())).Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
