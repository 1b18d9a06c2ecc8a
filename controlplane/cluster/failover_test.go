package cluster_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shortify/shortify/controlplane/cluster"
	"github.com/shortify/shortify/controlplane/fsm"
)

// stream issues a code and an ID on a node every millisecond until
// stopped, and keeps what it got.
type stream struct {
	n       *tnode
	stopped chan struct{}
	done    chan struct{}

	mu    sync.Mutex
	codes []string
	ids   []int64
	errs  []error
	count atomic.Int64 // codes issued
}

func startStream(n *tnode) *stream {
	s := &stream{n: n, stopped: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-s.stopped:
				return
			case <-tick.C:
			}
			code, err := n.node.NextCode()
			id, err2 := n.node.NewID()
			s.mu.Lock()
			if err == nil {
				s.codes = append(s.codes, code)
				s.count.Add(1)
			} else {
				s.errs = append(s.errs, err)
			}
			if err2 == nil {
				s.ids = append(s.ids, id)
			} else {
				s.errs = append(s.errs, err2)
			}
			s.mu.Unlock()
		}
	}()
	return s
}

func (s *stream) stop() {
	select {
	case <-s.stopped:
	default:
		close(s.stopped)
	}
	<-s.done
}

// Three nodes issue codes and IDs all the time; the leader crashes. The
// others elect a new leader, keep issuing from their blocks meanwhile
// without a single error, then fetch new blocks from the new leader; no
// code and no ID is ever handed out twice.
func TestLeaderFailoverUnderLoad(t *testing.T) {
	c := newCluster(t, 3, func(cfg *cluster.Config) {
		// About 1,000 codes a second per node: a block lasts seconds, far
		// longer than an election.
		cfg.BlockSize = 10_000
	})
	old := leader(t, 10*time.Second, c.nodes...)
	survivors := others(c.nodes, old)

	streams := map[*tnode]*stream{}
	for _, n := range c.nodes {
		streams[n] = startStream(n)
	}
	t.Cleanup(func() {
		for _, s := range streams {
			s.stop()
		}
	})
	eventually(t, 10*time.Second, "every node issuing", func() bool {
		for _, s := range streams {
			if s.count.Load() < 300 {
				return false
			}
		}
		return true
	})

	streams[old].stop()
	seqAtKill := old.node.FSM().NextSequence()
	before := map[*tnode]int64{}
	for _, n := range survivors {
		before[n] = streams[n].count.Load()
	}
	killed := time.Now()
	old.kill()

	// A write proposed on each survivor right after the crash waits for
	// the new leader (forwarded or applied locally) and then succeeds.
	var wg sync.WaitGroup
	writeTook := make([]time.Duration, len(survivors))
	for i, n := range survivors {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			resp, err := n.node.Propose(ctx, fsm.AllocateBlock{Node: "probe", Size: 1})
			if err != nil || resp.(*fsm.BlockResult).Err != nil {
				t.Errorf("write through %s after the crash: %v %+v", n.cfg.NodeID, err, resp)
			}
			writeTook[i] = time.Since(killed)
		})
	}

	nl := leader(t, 15*time.Second, survivors...)
	leaderless := time.Since(killed)
	during := map[*tnode]int64{}
	for _, n := range survivors {
		during[n] = streams[n].count.Load() - before[n]
	}
	wg.Wait()
	t.Logf("leader %s killed; %s leads after %v without a leader; writes went through again after %v and %v; "+
		"codes issued meanwhile: %s %d, %s %d",
		old.cfg.NodeID, nl.cfg.NodeID, leaderless.Round(time.Millisecond),
		writeTook[0].Round(time.Millisecond), writeTook[1].Round(time.Millisecond),
		survivors[0].cfg.NodeID, during[survivors[0]], survivors[1].cfg.NodeID, during[survivors[1]])
	for _, n := range survivors {
		if during[n] == 0 {
			t.Errorf("%s issued no code while there was no leader", n.cfg.NodeID)
		}
	}

	// Each survivor uses up what it holds and fetches blocks that the new
	// leader allocated.
	for _, n := range survivors {
		s := streams[n]
		deadline := time.Now().Add(15 * time.Second)
		for {
			code, err := n.node.NextCode()
			if err != nil {
				t.Fatalf("%s after the failover: %v", n.cfg.NodeID, err)
			}
			s.mu.Lock()
			s.codes = append(s.codes, code)
			s.mu.Unlock()
			seq, err := n.node.Seq(code)
			if err != nil {
				t.Fatal(err)
			}
			if seq >= seqAtKill {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s got no block from the new leader", n.cfg.NodeID)
			}
		}
	}
	for _, s := range streams {
		s.stop()
	}

	codes := map[string]string{}
	ids := map[int64]string{}
	total := 0
	for n, s := range streams {
		if n != old && len(s.errs) > 0 {
			t.Errorf("%s failed %d times, first: %v", n.cfg.NodeID, len(s.errs), s.errs[0])
		}
		for _, code := range s.codes {
			if other, dup := codes[code]; dup {
				t.Fatalf("code %q issued by %s and %s", code, other, n.cfg.NodeID)
			}
			codes[code] = n.cfg.NodeID
		}
		for _, id := range s.ids {
			if other, dup := ids[id]; dup {
				t.Fatalf("ID %d issued by %s and %s", id, other, n.cfg.NodeID)
			}
			ids[id] = n.cfg.NodeID
		}
		total += len(s.codes)
	}
	t.Logf("%d codes and %d IDs over 3 nodes, all distinct", total, len(ids))
}
