package cluster_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shortify/shortify/controlplane/api"
	"github.com/shortify/shortify/controlplane/cluster"
)

// A node cut off from the others (its Raft traffic and its calls to their
// APIs dropped) can get no block and no lease. It keeps issuing from the
// blocks it holds, never a number the others could also issue, then
// returns ErrNoSequence, and its API answers creates with 503. Healed, it
// catches up and issues again.
func TestCutOffNode(t *testing.T) {
	for _, which := range []string{"follower", "leader"} {
		t.Run(which, func(t *testing.T) { testCutOffNode(t, which == "leader") })
	}
}

func testCutOffNode(t *testing.T, cutLeader bool) {
	const ttl = 30 * time.Second
	c := newCluster(t, 3, func(cfg *cluster.Config) {
		cfg.BlockSize = 100
		cfg.LeaseTTL = ttl
	})
	l := leader(t, 10*time.Second, c.nodes...)
	victim := others(c.nodes, l)[0]
	if cutLeader {
		victim = l
	}
	rest := others(c.nodes, victim)
	for range 150 { // past its first block: it has refilled through Raft
		if _, err := victim.node.NextCode(); err != nil {
			t.Fatal(err)
		}
	}

	victim.gate.Cut()
	cut := time.Now()
	eventually(t, 10*time.Second, "the cut-off node to lose its leader", func() bool {
		return victim.node.State().LeaderID == ""
	})
	l = leader(t, 10*time.Second, rest...)
	t.Logf("%s lost its leader %v after the cut; %s leads the others", victim.cfg.NodeID, time.Since(cut).Round(time.Millisecond), l.cfg.NodeID)
	// Every block the victim holds was allocated before the cut; the new
	// leader has applied all of them once its barrier passes.
	if err := l.node.Raft().Barrier(10 * time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	allocated := l.node.FSM().NextSequence()

	// The others go on issuing.
	taken := map[string]bool{}
	for _, n := range rest {
		for range 300 {
			code, err := n.node.NextCode()
			if err != nil {
				t.Fatalf("%s: %v", n.cfg.NodeID, err)
			}
			taken[code] = true
		}
	}

	// The victim issues what it holds, then runs dry.
	issued := 0
	var err error
	for {
		var code string
		if code, err = victim.node.NextCode(); err != nil {
			break
		}
		issued++
		if taken[code] {
			t.Fatalf("code %q issued by the cut-off node and another one", code)
		}
		if seq, _ := victim.node.Seq(code); seq >= allocated {
			t.Fatalf("cut-off node issued sequence number %d, past the %d allocated before the cut", seq, allocated)
		}
	}
	if !errors.Is(err, cluster.ErrNoSequence) {
		t.Fatalf("NextCode on the cut-off node: %v, want ErrNoSequence", err)
	}
	t.Logf("the cut-off node issued %d codes from its blocks, then: %v", issued, err)
	if err := victim.node.Ready(); !errors.Is(err, cluster.ErrNoLeader) {
		t.Fatalf("Ready: %v", err)
	}

	// Its API: creates get 503, readiness fails; the reason (which names
	// peers) is in the log only.
	status, body := do(t, "POST", victim.PublicURL()+"/api/v1/links", `{"url":"https://example.com/x"}`, nil)
	wantProblem(t, status, body, http.StatusServiceUnavailable, api.NotReadyDetail)
	status, body = do(t, "GET", victim.PublicURL()+"/api/v1/readyz", nil, nil)
	wantProblem(t, status, body, http.StatusServiceUnavailable, api.NotReadyDetail)

	// No lease either: renewal fails, and once the lease has run out by
	// the node's clock it issues no ID.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	err = victim.node.RenewLease(ctx)
	cancel()
	if err == nil {
		t.Fatal("the cut-off node renewed its lease")
	}
	victim.clock.Advance(ttl + time.Second)
	if _, err := victim.node.NewID(); !errors.Is(err, cluster.ErrNoLease) {
		t.Fatalf("NewID after the lease ran out: %v, want ErrNoLease", err)
	}
	status, body = do(t, "POST", victim.PublicURL()+"/api/v1/links", `{"url":"https://example.com/y"}`, nil)
	wantProblem(t, status, body, http.StatusServiceUnavailable, api.NotReadyDetail)

	// Healed, it rejoins, renews its lease (nobody took its worker ID)
	// and fetches blocks again.
	victim.gate.Heal()
	healed := time.Now()
	leader(t, 15*time.Second, c.nodes...)
	eventually(t, 15*time.Second, "the healed node to be ready", func() bool { return victim.node.Ready() == nil })
	t.Logf("cut off for %v; ready again %v after healing", healed.Sub(cut).Round(time.Millisecond), time.Since(healed).Round(time.Millisecond))
	code, err := victim.node.NextCode()
	if err != nil || taken[code] {
		t.Fatalf("after healing: %q %v", code, err)
	}
	if _, err := victim.node.NewID(); err != nil {
		t.Fatalf("NewID after healing: %v", err)
	}
	status, body = do(t, "POST", victim.PublicURL()+"/api/v1/links", `{"url":"https://example.com/z"}`, nil)
	if status != http.StatusCreated || !strings.Contains(string(body), `"code"`) {
		t.Fatalf("create after healing: %d %s", status, body)
	}
}
