package fsm

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// randomLog makes a log of plausible commands, with some that are refused.
func randomLog(t *testing.T, seed uint64, n int) [][]byte {
	rng := rand.New(rand.NewPCG(seed, seed))
	nodes := []string{"a", "b", "c", "d"}
	urls := []string{"", "http://10.0.0.1:8080", "https://cp.example"}
	type held struct {
		node   string
		worker uint16
		gen    uint64
	}
	// Run the log once to learn which leases exist, so that renewals and
	// releases are mostly valid.
	a := newApplier(t)
	var leases []held
	var log [][]byte
	now := int64(1_000_000)
	add := func(c Command) any {
		data, err := Encode(c)
		if err != nil {
			t.Fatal(err)
		}
		log = append(log, data)
		return a.raw(data)
	}
	for range n {
		now += rng.Int64N(5000) - 500 // clocks wobble backwards too
		node := nodes[rng.IntN(len(nodes))]
		switch rng.IntN(17) {
		case 0:
			add(InitCluster{Key: key(byte(rng.IntN(256)))})
		case 1:
			r := add(AcquireLease{Node: node, NowMs: now, TTLMs: rng.Int64N(20_000) + 1}).(*LeaseResult)
			if r.Err == nil {
				leases = append(leases, held{node, r.Worker, r.Gen})
			}
		case 2, 3:
			if len(leases) == 0 {
				continue
			}
			l := leases[rng.IntN(len(leases))]
			add(RenewLease{Node: l.node, Worker: l.worker, Gen: l.gen, NowMs: now, TTLMs: 10_000, LastMs: now - rng.Int64N(100)})
		case 4:
			if len(leases) == 0 {
				continue
			}
			i := rng.IntN(len(leases))
			l := leases[i]
			add(ReleaseLease{Node: l.node, Worker: l.worker, Gen: l.gen, LastMs: now})
			leases = append(leases[:i], leases[i+1:]...)
		case 5:
			add(AllocateBlock{Node: node, Size: rng.Uint64N(MaxBlockSize + 10)})
		case 6:
			add(RegisterNode{ID: node, RaftAddr: fmt.Sprintf("10.0.0.%d:8300", rng.IntN(3)), APIAddr: urls[rng.IntN(len(urls))]})
		case 7:
			add(DeregisterNode{ID: node})
		case 8:
			id := fmt.Sprintf("K%011d", rng.IntN(50))
			roles := []string{"viewer", "creator", "admin", "root"}
			add(AddKey{Key: KeyEntry{ID: id, Name: node, Role: roles[rng.IntN(len(roles))], Hash: key(byte(rng.IntN(256))), CreatedMs: now}, OnlyIfNone: rng.IntN(4) == 0})
		case 9:
			add(RevokeKey{ID: fmt.Sprintf("K%011d", rng.IntN(50)), AtMs: now})
		case 10:
			domains := []string{"a.example", "b.example", "c.example", "Bad Domain"}
			add(SetDomainBlocked{Domain: domains[rng.IntN(len(domains))], Blocked: rng.IntN(3) > 0})
		case 11:
			// Some out of range: refused.
			add(SetPartitionPolicy{Policy: PartitionPolicy{MonthsAhead: rng.IntN(27), RetentionDays: rng.IntN(800), Detach: rng.IntN(2) == 0}, OnlyIfNone: rng.IntN(3) == 0})
		case 12:
			// Some with an empty range or a bad state: refused whole.
			states := []PartitionState{PartitionCreated, PartitionDetached, PartitionDropped, "lost"}
			var recs []PartitionRecord
			for range rng.IntN(4) + 1 {
				m := int64(rng.IntN(24))
				name := fmt.Sprintf("clicks_y2026m%02d", m)
				if slices.ContainsFunc(recs, func(r PartitionRecord) bool { return r.Name == name }) {
					continue
				}
				recs = append(recs, PartitionRecord{Table: "clicks", Name: name, FromMs: m * 1000, ToMs: (m + int64(rng.IntN(30))) * 1000, State: states[rng.IntN(len(states))]})
			}
			add(RecordPartitions{AtMs: now, Partitions: recs})
		case 13:
			// Some names taken or bad, some workspaces not empty: refused.
			names := []string{"acme", "beta", "gamma", "default", "Bad"}
			switch ws := rng.Int64N(6); rng.IntN(3) {
			case 0:
				add(CreateWorkspace{Name: names[rng.IntN(len(names))], Limits: WorkspaceLimits{MaxLinks: rng.Int64N(3) - 1}, AtMs: now})
			case 1:
				add(UpdateWorkspace{ID: ws, Name: names[rng.IntN(len(names))], Limits: &WorkspaceLimits{MaxDomains: rng.Int64N(4)}})
			default:
				add(DeleteWorkspace{ID: ws})
			}
		case 14, 15:
			domains := []string{"a.example", "b.example", "c.example", "Bad"}
			d, ws := domains[rng.IntN(len(domains))], rng.Int64N(6)
			switch rng.IntN(4) {
			case 0:
				add(AddDomain{Domain: d, Workspace: ws, Challenge: fmt.Sprintf("challenge%08d", rng.IntN(1000)), AtMs: now})
			case 1:
				add(VerifyDomain{Domain: d, Workspace: ws, AtMs: now})
			case 2:
				add(SetDomainSettings{Domain: d, Workspace: ws, Settings: DomainSettings{RedirectStatus: []int{0, 301, 302, 303}[rng.IntN(4)]}})
			default:
				add(DeleteDomain{Domain: d, Workspace: ws})
			}
		case 16:
			id := fmt.Sprintf("W%011d", rng.IntN(50))
			roles := []string{"viewer", "creator", "admin"}
			add(AddKey{Key: KeyEntry{ID: id, Name: node, Role: roles[rng.IntN(len(roles))], Hash: key(byte(rng.IntN(256))), CreatedMs: now, Workspace: rng.Int64N(6)}})
		}
	}
	return log
}

func TestDeterminism(t *testing.T) {
	log := randomLog(t, 42, 5000)
	x, y := newApplier(t), newApplier(t)
	for i, data := range log {
		rx, ry := x.raw(data), y.raw(data)
		if fmt.Sprintf("%+v", rx) != fmt.Sprintf("%+v", ry) {
			t.Fatalf("entry %d: responses differ: %+v vs %+v", i, rx, ry)
		}
	}
	sx, sy := x.f.State(), y.f.State()
	if !reflect.DeepEqual(sx, sy) {
		t.Fatal("states differ after the same log")
	}
	if len(sx.Workers) == 0 || sx.NextSequence == 0 || sx.Key == nil || len(sx.Nodes) == 0 || len(sx.Keys) == 0 || len(sx.BlockedDomains) == 0 || sx.PartitionPolicy == nil || len(sx.Partitions) == 0 || len(sx.Workspaces) < 2 || len(sx.Domains) == 0 {
		t.Fatalf("log exercised too little: %d workers, sequence %d, %d nodes, %d keys, policy %v, %d partitions", len(sx.Workers), sx.NextSequence, len(sx.Nodes), len(sx.Keys), sx.PartitionPolicy, len(sx.Partitions))
	}
}
