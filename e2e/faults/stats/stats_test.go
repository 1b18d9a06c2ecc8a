//go:build faults

package stats

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shortify/shortify/internal/clickevents"
	"github.com/shortify/shortify/internal/testkit/faults"
	"github.com/shortify/shortify/internal/testkit/kafkatest"
	"github.com/shortify/shortify/internal/testkit/loadgen"
	"github.com/shortify/shortify/internal/testkit/procs"
	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/stats/aggregate"
	"github.com/shortify/shortify/stats/aggregate/aggtest"
	"github.com/shortify/shortify/stats/statsdb"
	"github.com/shortify/shortify/stats/statsdb/statsdbtest"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// The fault's shape and bounds.
const (
	// The role Caddyfile's topics and group (deploy/caddyfiles/stats.Caddyfile).
	clicksTopic = "clicks"
	linksTopic  = "shortify.link-events"
	group       = "shortify-stats"
	partitions  = 6
	// clickRate is the clicks a second produced from start to end.
	clickRate = 200
	// sessionTimeout is the instances' SHORTIFY_STATS_SESSION_TIMEOUT:
	// the brokers' least, as in make stack.
	sessionTimeout = 6 * time.Second
	// stormSteps group changes (a join, then a clean leave, in turn), one
	// every stormStep: the rebalance storm.
	stormSteps = 12
	stormStep  = 1500 * time.Millisecond
	// recoveryBound bounds the time from a SIGKILL until every click
	// produced before it is counted: the dead member's session must
	// expire (sessionTimeout) and the group rebalance, on a machine
	// shared with other test runs.
	recoveryBound = sessionTimeout + 30*time.Second
	// countedWithin bounds the end: every click counted after the load
	// stops.
	countedWithin = 2 * time.Minute
)

// TestFault07StatsKillAndRebalance: clicks flow into the clicks topic at
// clickRate while stats instances (real processes) are killed with
// SIGKILL in the middle of a batch (records polled, not yet committed)
// and others join and leave the consumer group every stormStep. Every
// click produced (read back from the topic: the ground truth) must be
// counted exactly once: the aggregate tables equal the truth computed
// from those events, row for row, visitor sketches byte for byte. The
// figure is the difference (0) and the seconds from each kill until
// every click produced before it was counted.
func TestFault07StatsKillAndRebalance(t *testing.T) {
	dir, err := os.MkdirTemp("", "shortify-fault07-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	broker := kafkatest.StartBroker(t, partitions, clicksTopic, linksTopic)
	env := instanceEnv{bin: testenv.Shortify(t), dir: dir, broker: broker.Addr(), dsn: testenv.Database(t), session: sessionTimeout, started: new([]*instance)}
	db, err := statsdb.Open(t.Context(), statsdb.Config{DSN: env.dsn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	w := &watcher{t: t, db: db, broker: broker.Addr()}

	live := []*instance{env.start(t, "stats1"), env.start(t, "stats2")}
	w.waitMembers("two instances sharing the partitions", 2)

	clicks := startClicks(t, broker.Addr())
	testenv.WaitFor(t, "a second of clicks produced", countedWithin, func() bool { return clicks.load.Ended() >= clickRate })
	w.waitCaughtUp("the first clicks counted", w.ends(), countedWithin)
	before := clicks.load.Window()
	t.Logf("before the storm: %s", before)

	// The storm: a join, a clean leave, a join, ... one every stormStep,
	// and a SIGKILL in the middle of a batch halfway through.
	var recoveries []time.Duration
	var inFlight []int64
	var recovered sync.WaitGroup
	var mu sync.Mutex
	next, leaves, slowLeaves := 3, 0, 0
	for step := range stormSteps {
		if step == stormSteps/2 {
			victim, n := w.killMidBatch(live)
			live = remove(live, victim)
			ends := w.ends()
			inFlight = append(inFlight, n)
			recovered.Go(func() {
				d := w.caughtUp(ends, recoveryBound)
				mu.Lock()
				recoveries = append(recoveries, d)
				mu.Unlock()
				t.Logf("recovered %v after the SIGKILL of %s during the storm", d.Round(time.Millisecond), victim.name)
			})
		}
		if step%2 == 0 || len(live) < 2 {
			live = append(live, env.start(t, fmt.Sprintf("stats%d", next)))
			next++
		} else {
			leaving := live[0]
			live = live[1:]
			leaves++
			// A clean leave that takes longer than the stop bound is
			// ended with SIGKILL, one more crash for the group: counted
			// in the figure, not a failure of the counts.
			if err := leaving.stop(); err != nil {
				t.Logf("clean leave of %s: %v", leaving.name, err)
				slowLeaves++
			}
		}
		// The storm's pace: a deliberate interval between group
		// changes, not a wait for something.
		select {
		case <-time.After(stormStep):
		case <-t.Context().Done():
			return
		}
	}
	recovered.Wait()
	during := clicks.load.Window()
	t.Logf("during the storm: %s", during)

	// Calm, then one more SIGKILL mid-batch with the group stable and a
	// survivor to take the victim's partitions over.
	for len(live) < 2 {
		live = append(live, env.start(t, fmt.Sprintf("stats%d", next)))
		next++
	}
	w.waitMembers(fmt.Sprintf("the %d instances left sharing the partitions", len(live)), len(live))
	victim, n := w.killMidBatch(live)
	live = remove(live, victim)
	inFlight = append(inFlight, n)
	d := w.caughtUp(w.ends(), recoveryBound)
	recoveries = append(recoveries, d)
	t.Logf("recovered %v after the SIGKILL of %s in a stable group", d.Round(time.Millisecond), victim.name)

	// The end: the load stops, every click is counted, and the tables
	// equal the truth.
	acked := clicks.stop()
	after := clicks.load.Window()
	t.Logf("after: %s", after)
	ends := w.ends()
	w.waitCaughtUp("every click counted", ends, countedWithin)
	recs := kafkatest.ConsumeUntil(t, broker.Addr(), clicksTopic, ends)
	evs := make([]clickevents.Event, len(recs))
	for i, r := range recs {
		if err := evs[i].UnmarshalBinary(r.Value); err != nil {
			t.Fatalf("record %d/%d: %v", r.Partition, r.Offset, err)
		}
	}
	if int64(len(evs)) < acked {
		t.Errorf("%d clicks in the topic, %d acknowledged to the producer", len(evs), acked)
	}
	truth := aggtest.Compute(evs)
	got := statsdbtest.Read(t, env.dsn)
	diff, stored := difference(got, truth)
	statsdbtest.Compare(t, got, truth)
	if diff != 0 {
		t.Errorf("the aggregates differ from the truth by %d clicks; per partition (a code's clicks all go to one): %s",
			diff, perPartition(recs, evs, got))
	}
	faults.Record(t, faults.Row{
		Fault: fmt.Sprintf("%d clicks/s into %d partitions; %d group changes %v apart (join, clean leave) and 2 stats instances SIGKILLed mid-batch (%v records in flight)",
			clickRate, partitions, stormSteps, stormStep, inFlight),
		Expected: fmt.Sprintf("aggregates = ground truth (difference 0); every click before a kill counted within %v", recoveryBound),
		Measured: fmt.Sprintf("difference %d (%d clicks produced, %d stored in the hourly roll-up); recovery %s; clean leaves over 30 s (then SIGKILLed): %d of %d; fetch cursors sent back to the counted offset: %d",
			diff, len(evs), stored, durations(recoveries), slowLeaves, leaves, env.logLines("seeking back")),
	})
}

// difference is Σ|stored − truth| over every aggregate row (hourly and
// daily, per link and rolled up), and the clicks of the instance-wide
// hourly roll-up as stored.
func difference(got *statsdbtest.Tables, want *aggtest.Truth) (diff, stored int64) {
	abs := func(v int64) int64 { return max(v, -v) }
	for k, n := range want.Clicks {
		diff += abs(got.Clicks[k] - n)
	}
	for k, n := range got.Clicks {
		if _, ok := want.Clicks[k]; !ok {
			diff += n
		}
		if k.Grain == aggregate.Hour && k.Code == "" && k.Workspace == 0 {
			stored += n
		}
	}
	return diff, stored
}

// perPartition says, for each partition of the clicks topic, how many
// clicks it holds and how many the hourly per-link rows of its codes
// count: where clicks went missing or were counted twice.
func perPartition(recs []*kgo.Record, evs []clickevents.Event, got *statsdbtest.Tables) string {
	partOf := map[string]int32{}
	produced := map[int32]int64{}
	for i, r := range recs {
		partOf[evs[i].Code] = r.Partition
		produced[r.Partition]++
	}
	counted := map[int32]int64{}
	for k, n := range got.Clicks {
		if k.Grain == aggregate.Hour && k.Code != "" {
			counted[partOf[k.Code]] += n
		}
	}
	var out []string
	for p := range int32(partitions) {
		out = append(out, fmt.Sprintf("%d: %d produced, %d counted", p, produced[p], counted[p]))
	}
	return strings.Join(out, "; ")
}

func durations(ds []time.Duration) string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = fmt.Sprintf("%.1f s", d.Seconds())
	}
	return strings.Join(s, ", ")
}

func remove(live []*instance, in *instance) []*instance {
	out := live[:0:0]
	for _, l := range live {
		if l != in {
			out = append(out, l)
		}
	}
	return out
}

// watcher reads the group and its stored offsets.
type watcher struct {
	t      *testing.T
	db     *statsdb.DB
	broker string
}

// ends returns the clicks topic's end offsets now.
func (w *watcher) ends() map[int32]int64 {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(w.t.Context(), 10*time.Second)
	defer cancel()
	ends, err := kafkatest.EndOffsets(ctx, w.broker, clicksTopic)
	if err != nil {
		w.t.Fatal(err)
	}
	return ends
}

// stored says whether the group's stored offsets reach ends.
func (w *watcher) stored(ends map[int32]int64) (bool, string) {
	parts := make([]int32, 0, len(ends))
	for p := range ends {
		parts = append(parts, p)
	}
	got, err := w.db.LoadOffsets(w.t.Context(), group, clicksTopic, parts)
	if err != nil {
		return false, err.Error() // the schema may not be there yet
	}
	for p, end := range ends {
		if got[p] < end {
			return false, fmt.Sprintf("stored %v, want %v", got, ends)
		}
	}
	return true, ""
}

// caughtUp polls the stored offsets until they reach ends and returns
// how long that took, or fails the test after bound.
func (w *watcher) caughtUp(ends map[int32]int64, bound time.Duration) time.Duration {
	begin := time.Now()
	ctx, cancel := context.WithTimeout(w.t.Context(), bound)
	defer cancel()
	var last string
	err := procs.Poll(ctx, "the stored offsets to reach the kill's end offsets", 20*time.Millisecond, nil, func(context.Context) error {
		ok, why := w.stored(ends)
		if !ok {
			last = why
			return fmt.Errorf("%s", why)
		}
		return nil
	})
	if err != nil {
		w.t.Errorf("every click before the kill not counted within %v: %s", bound, last)
	}
	return time.Since(begin)
}

// waitCaughtUp waits until the stored offsets reach ends.
func (w *watcher) waitCaughtUp(what string, ends map[int32]int64, within time.Duration) {
	w.t.Helper()
	var last string
	defer func() {
		if w.t.Failed() {
			w.t.Logf("%s: last seen %s", what, last)
		}
	}()
	testenv.WaitFor(w.t, what, within, func() bool {
		ok, why := w.stored(ends)
		last = why
		return ok
	})
}

// waitMembers waits until n members share every partition of the clicks
// topic.
func (w *watcher) waitMembers(what string, n int) {
	w.t.Helper()
	var parts []int
	var err error
	testenv.WaitFor(w.t, what, countedWithin, func() bool {
		ctx, cancel := context.WithTimeout(w.t.Context(), 5*time.Second)
		defer cancel()
		parts, err = kafkatest.GroupPartitions(ctx, w.broker, group, clicksTopic)
		sum := 0
		for _, p := range parts {
			sum += p
		}
		return err == nil && len(parts) == n && sum == partitions
	})
	w.t.Logf("%s: partitions per member %v", what, parts)
}

// killMidBatch kills (SIGKILL) one of live while it has a batch in
// flight: records polled and not committed (its consumed counter ahead
// of its counted one). It returns the instance and how many records it
// had in flight at the last look before the kill.
func (w *watcher) killMidBatch(live []*instance) (*instance, int64) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(w.t.Context(), countedWithin)
	defer cancel()
	var victim *instance
	var n int64
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	err := procs.Poll(ctx, "an instance with a batch in flight", 5*time.Millisecond, nil, func(ctx context.Context) error {
		in := live[rng.IntN(len(live))]
		c, err := in.counters(ctx)
		if err != nil {
			return err
		}
		if c.consumed <= c.counted {
			return fmt.Errorf("%s: %d consumed, %d counted", in.name, c.consumed, c.counted)
		}
		victim, n = in, c.consumed-c.counted
		return nil
	})
	if err != nil {
		w.t.Fatal(err)
	}
	victim.kill()
	w.t.Logf("killed %s (SIGKILL) with %d records polled and not committed", victim.name, n)
	return victim, n
}

// clickLoad produces click events at clickRate, open loop.
type clickLoad struct {
	load   *loadgen.Load
	cl     *kgo.Client
	mu     sync.Mutex
	acked  int64
	stopMu sync.Once
}

// startClicks starts producing clicks of 50 links from a pool of
// visitors, timestamped now, a tenth of them bots (aggtest.Events).
func startClicks(t *testing.T, broker string) *clickLoad {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.DefaultProduceTopic(clicksTopic))
	if err != nil {
		t.Fatal(err)
	}
	links := aggtest.Links(50)
	var rngMu sync.Mutex
	rng := rand.New(rand.NewPCG(71, 72))
	c := &clickLoad{cl: cl}
	c.load = loadgen.Start(context.Background(), loadgen.Config{Rate: clickRate}, func(ctx context.Context) (string, bool) {
		rngMu.Lock()
		ev := aggtest.Events(rng, 1, links, time.Now(), time.Millisecond, 2000)[0]
		rngMu.Unlock()
		v, err := ev.AppendBinary(nil)
		if err != nil {
			return "encode", true
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Key: ev.Key(), Value: v, Timestamp: ev.Time}).FirstErr(); err != nil {
			return "error", true
		}
		c.mu.Lock()
		c.acked++
		c.mu.Unlock()
		return "acked", false
	})
	t.Cleanup(func() { c.stop() })
	return c
}

// stop ends the load and returns the clicks acknowledged.
func (c *clickLoad) stop() int64 {
	c.stopMu.Do(func() {
		c.load.Stop()
		c.cl.Close()
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.acked
}
