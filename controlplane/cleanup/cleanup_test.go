package cleanup

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/shortify/shortify/controlplane/leader"
	"github.com/shortify/shortify/internal/l2cache"
	"github.com/shortify/shortify/internal/linkevents"
	"github.com/shortify/shortify/internal/linkevents/producer"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/linkstore/storetest"
	"github.com/shortify/shortify/internal/testkit/kafkatest"
	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/internal/testkit/teststore"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const topic = "shortify.link-events.test"

// waitTimeout bounds every wait; it only runs out when something is broken.
const waitTimeout = 30 * time.Second

var quiet = slog.New(slog.DiscardHandler)

// backends open a store of the test's own: a temporary SQLite file, or a
// PostgreSQL schema of the test's own (the cleanup deletes every expired
// link it can see).
var backends = teststore.Backends

// recordingStore is the real store, with the size of every batch that
// RetireExpired returned.
type recordingStore struct {
	linkstore.Store
	mu      sync.Mutex
	batches []int
}

func (s *recordingStore) RetireExpired(ctx context.Context, now time.Time, limit int) ([]linkstore.Link, error) {
	gone, err := s.Store.RetireExpired(ctx, now, limit)
	if err == nil {
		s.mu.Lock()
		s.batches = append(s.batches, len(gone))
		s.mu.Unlock()
	}
	return gone, err
}

func (s *recordingStore) sizes() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.batches)
}

// timer is the cleaner's injected timer: the wait between runs (interval)
// fires only when the test sends on fire; the wait between batches fires
// at once, or when the test sends on gate if gate is set. Every wait
// between batches is recorded.
type timer struct {
	interval time.Duration
	fire     chan time.Time
	gate     chan time.Time
	mu       sync.Mutex
	paces    []time.Duration
}

func newTimer(interval time.Duration) *timer {
	return &timer{interval: interval, fire: make(chan time.Time)}
}

func (tm *timer) after(d time.Duration) <-chan time.Time {
	if d == tm.interval {
		return tm.fire
	}
	tm.mu.Lock()
	defer tm.mu.Unlock()
	tm.paces = append(tm.paces, d)
	if tm.gate != nil {
		return tm.gate
	}
	c := make(chan time.Time, 1)
	c <- time.Time{}
	return c
}

func (tm *timer) waits() []time.Duration {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return slices.Clone(tm.paces)
}

// observed is a cleaner under test, with its runs and states.
type observed struct {
	c      *Cleaner
	runs   chan Run
	states chan string
	timer  *timer
}

func newObserved(t *testing.T, store Store, lead leader.Leadership, cfg Config) *observed {
	t.Helper()
	o := &observed{runs: make(chan Run, 16), states: make(chan string, 16), timer: newTimer(time.Hour)}
	cfg.Interval = o.timer.interval
	cfg.After = o.timer.after
	cfg.OnRun = func(r Run) { o.runs <- r }
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	c, err := New(store, lead, cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.trace = func(state string) { o.states <- state }
	o.c = c
	t.Cleanup(func() { _ = c.Close() })
	return o
}

// run waits for the next run. (A run and the state after it can be ready
// together, so run and state each wait on their own channel.)
func (o *observed) run(t *testing.T) Run {
	t.Helper()
	return testenv.Receive(t, o.runs, waitTimeout, "no run")
}

// state waits for the loop's next state, which must be want.
func (o *observed) state(t *testing.T, want string) {
	t.Helper()
	if st := testenv.Receive(t, o.states, waitTimeout, "cleaner never went "+want); st != want {
		t.Fatalf("cleaner went %s, want %s", st, want)
	}
}

// tick ends the wait between runs.
func (o *observed) tick(t *testing.T) {
	t.Helper()
	testenv.Send(t, o.timer.fire, time.Time{}, waitTimeout, "the cleaner is not waiting for its next run")
}

// startKafka starts a kfake broker with the topic, and a producer on it.
func startKafka(t *testing.T, cfg producer.Config) (*kfake.Cluster, *producer.Producer) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, topic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cfg.Brokers, cfg.Topic, cfg.Logger = c.ListenAddrs(), topic, quiet
	p, err := producer.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return c, p
}

// links creates n links of the store that expire at expires (zero: never).
func links(t *testing.T, s linkstore.Store, n int, expires time.Time) []linkstore.Link {
	t.Helper()
	ls := make([]linkstore.Link, n)
	for i := range ls {
		ls[i] = storetest.NewLink()
		ls[i].ExpiresAt = expires
	}
	for i, err := range s.CreateMany(t.Context(), ls) {
		if err != nil {
			t.Fatalf("create %s: %v", ls[i].Code, err)
		}
	}
	return ls
}

func exists(t *testing.T, s linkstore.Store, l linkstore.Link) bool {
	t.Helper()
	_, err := s.Get(t.Context(), "", l.Code)
	if err != nil && !errors.Is(err, linkstore.ErrNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

func TestCleanup(t *testing.T) {
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			t.Run("batches, events and L2", func(t *testing.T) { testBatches(t, open(t)) })
			t.Run("cut at the end of the leadership", func(t *testing.T) { testLeadershipEnds(t, open(t)) })
			t.Run("paused while the producer is full", func(t *testing.T) { testBacklogged(t, open(t)) })
		})
	}
}

// testBatches: a run retires every expired link in batches of the
// configured size at the configured rate (the rows stay: the edge reads
// them, creates cannot take their codes), publishes a deleted event
// (reason expired, with the link's ID, statistics kept) for each, and
// removes each from L2; links that expire later, or never, stay, in the
// store and in L2.
func testBatches(t *testing.T, s linkstore.Store) {
	ctx := t.Context()
	realNow := time.Now().UTC().Truncate(time.Microsecond)
	now := realNow.Add(2 * time.Hour) // the cleaner's clock
	expired := links(t, s, 23, realNow.Add(time.Hour))
	later := links(t, s, 5, realNow.Add(3*time.Hour))
	never := links(t, s, 4, time.Time{})

	redis, err := l2cache.NewClient(testenv.RedisAddr(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = redis.Close() })
	cache := l2cache.New(redis, testenv.UniquePrefix(t), time.Hour)
	for _, l := range slices.Concat(expired, later) {
		if err := cache.Set(ctx, l); err != nil {
			t.Fatal(err)
		}
	}

	k, p := startKafka(t, producer.Config{})
	rs := &recordingStore{Store: s}
	var lead leader.Flag
	lead.Set(true)
	o := newObserved(t, rs, &lead, Config{
		BatchSize: 5, Rate: 50, Events: p, Cache: cache,
		Now: func() time.Time { return now },
	})
	o.c.Start(context.Background())
	o.state(t, "leading")

	r := o.run(t)
	if r.Err != nil || r.Deleted != 23 || r.Batches != 5 || r.Backlogged || r.CacheErrors != 0 || !r.Now.Equal(now) {
		t.Fatalf("run: %+v, want 23 links deleted in 5 batches", r)
	}
	if got := rs.sizes(); !slices.Equal(got, []int{5, 5, 5, 5, 3}) {
		t.Fatalf("batches of %v, want 5, 5, 5, 5, 3", got)
	}
	if got, want := o.timer.waits(), slices.Repeat([]time.Duration{20 * time.Millisecond}, 4); !slices.Equal(got, want) {
		t.Fatalf("waits between batches: %v, want %v (50 batches a second)", got, want)
	}
	for _, l := range expired {
		if exists(t, s, l) {
			t.Errorf("expired link %s is still live", l.Code)
		}
		// Retired, not deleted: the edge still reads it (410), and its
		// code is never issued again.
		if got, err := s.LookupPrimary(ctx, "", l.Code); err != nil || got.RetiredReason != linkstore.RetiredExpired || !got.Expired(now) {
			t.Errorf("Lookup of retired link %s: %+v, %v; want it retired and expired", l.Code, got, err)
		}
		taker := storetest.NewLink()
		taker.Code = l.Code
		if err := s.Create(ctx, taker); !errors.Is(err, linkstore.ErrCodeTaken) {
			t.Errorf("Create of retired code %s: %v, want ErrCodeTaken", l.Code, err)
		}
		if _, hit, err := cache.Get(ctx, "", l.Code); err != nil || hit {
			t.Errorf("expired link %s in L2: hit %t, %v", l.Code, hit, err)
		}
	}
	for _, l := range later {
		if !exists(t, s, l) {
			t.Errorf("link %s, expiring after now, was deleted", l.Code)
		}
		if _, hit, err := cache.Get(ctx, "", l.Code); err != nil || !hit {
			t.Errorf("link %s, expiring after now, left L2: hit %t, %v", l.Code, hit, err)
		}
	}
	for _, l := range never {
		if !exists(t, s, l) {
			t.Errorf("link %s, which never expires, was deleted", l.Code)
		}
	}

	want := map[string]int64{}
	for _, l := range expired {
		want[l.Code] = l.ID
	}
	for _, e := range kafkatest.ConsumeEvents(t, k.ListenAddrs()[0], topic, len(expired)) {
		id, ok := want[e.Code]
		if !ok || e.Type != linkevents.Deleted || e.Reason != linkevents.ReasonExpired || e.LinkID != id || !e.At.Equal(now) || e.PurgeStats {
			t.Errorf("event %+v, want a deletion of an expired link at %s, its statistics kept", e, now)
		}
		delete(want, e.Code)
	}
	if len(want) != 0 {
		t.Errorf("no events for %d deleted links", len(want))
	}

	// The next run, an interval later, finds nothing.
	o.tick(t)
	if r := o.run(t); r.Err != nil || r.Deleted != 0 || r.Batches != 1 {
		t.Fatalf("second run: %+v, want nothing deleted", r)
	}
	if err := o.c.Close(); err != nil {
		t.Fatal(err)
	}
	o.state(t, "stopped")
	if s := p.Stats(); s.Published != 23 || s.Dropped != 0 || s.Failed != 0 {
		t.Fatalf("producer: %+v, want 23 published", s)
	}
}

// testLeadershipEnds: a follower deletes nothing; a leader deletes; a
// leadership lost between two batches stops the run there, after the
// batch in flight. Events and L2 are off. (Running only while leading,
// Close and Start after Close are package leader's, and tested there.)
func testLeadershipEnds(t *testing.T, s linkstore.Store) {
	now := time.Now().UTC().Add(2 * time.Hour)
	expired := links(t, s, 2, now.Add(-time.Hour))
	var lead leader.Flag
	o := newObserved(t, s, &lead, Config{BatchSize: 2, Now: func() time.Time { return now }})
	o.timer.gate = make(chan time.Time) // batches wait for the test
	o.c.Start(context.Background())
	o.state(t, "follower")
	for _, l := range expired {
		if !exists(t, s, l) {
			t.Fatalf("a follower deleted %s", l.Code)
		}
	}

	lead.Set(true)
	o.state(t, "leading")
	// The first batch is full: the run waits before the next one.
	testenv.Send(t, o.timer.gate, time.Time{}, waitTimeout, "the run does not wait between batches")
	if r := o.run(t); r.Err != nil || r.Deleted != 2 || r.Batches != 2 {
		t.Fatalf("run: %+v, want 2 deleted", r)
	}
	for _, l := range expired {
		if exists(t, s, l) {
			t.Fatalf("the leader did not delete %s", l.Code)
		}
	}

	// Leadership ends while the next run waits between its batches.
	more := links(t, s, 5, now.Add(-time.Minute))
	o.tick(t)
	waitFor(t, "the run to wait after its first batch", func() bool { return len(o.timer.waits()) == 2 })
	lead.Set(false)
	r := o.run(t)
	if !errors.Is(r.Err, context.Canceled) || r.Deleted != 2 || r.Batches != 1 {
		t.Fatalf("run cut by the end of the leadership: %+v, want 2 deleted, then cancelled", r)
	}
	o.state(t, "follower")
	left := 0
	for _, l := range more {
		if exists(t, s, l) {
			left++
		}
	}
	if left != 3 {
		t.Fatalf("%d links left after the leadership ended, want 3", left)
	}
}

// waitFor polls cond until it holds, failing the test after waitTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testenv.WaitFor(t, what, waitTimeout, cond)
}

// testBacklogged: a run stops, deleting nothing more, when the producer
// has no room for a batch's events (Kafka is down); once Kafka takes the
// events, the next run goes on.
func testBacklogged(t *testing.T, s linkstore.Store) {
	now := time.Now().UTC().Add(2 * time.Hour)
	expired := links(t, s, 12, now.Add(-time.Hour))
	k, p := startKafka(t, producer.Config{MaxBufferedRecords: 12})
	addr := k.ListenAddrs()[0]
	// Kafka refuses every produce request until the test lets it through.
	var (
		mu      sync.Mutex
		refused = true
	)
	k.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		k.KeepControl()
		mu.Lock()
		defer mu.Unlock()
		if refused {
			return nil, errors.New("down"), true // closes the connection
		}
		return nil, nil, false
	})
	var lead leader.Flag
	lead.Set(true)
	o := newObserved(t, s, &lead, Config{BatchSize: 5, Events: p, Now: func() time.Time { return now }})
	o.c.Start(context.Background())
	o.state(t, "leading")
	r := o.run(t)
	// Two batches fit in the buffer (12 events), a third would not.
	if r.Err != nil || !r.Backlogged || r.Deleted != 10 || r.Batches != 2 {
		t.Fatalf("run with Kafka down: %+v, want 10 deleted, then paused", r)
	}
	if st := p.Stats(); st.Buffered != 10 || st.Dropped != 0 {
		t.Fatalf("producer: %+v, want the batches' 10 events buffered", st)
	}

	mu.Lock()
	refused = false
	mu.Unlock()
	waitFor(t, "the buffered events published", func() bool { return p.Stats().Published == 10 })
	o.tick(t)
	if r := o.run(t); r.Err != nil || r.Backlogged || r.Deleted != 2 {
		t.Fatalf("run with Kafka back: %+v, want the other 2 deleted", r)
	}
	kafkatest.ConsumeEvents(t, addr, topic, 12)
	for _, l := range expired {
		if exists(t, s, l) {
			t.Errorf("%s is still stored", l.Code)
		}
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	var lead leader.Flag
	s := backends["sqlite"](t)
	for _, cfg := range []Config{
		{BatchSize: -1}, {BatchSize: MaxBatchSize + 1}, {Rate: -1}, {Rate: 1e6}, {Interval: -time.Second},
	} {
		if _, err := New(s, &lead, cfg); err == nil {
			t.Errorf("New(%+v): no error", cfg)
		}
	}
	if _, err := New(nil, &lead, Config{}); err == nil {
		t.Error("New without a store: no error")
	}
	c, err := New(s, &lead, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if c.cfg.BatchSize != DefaultBatchSize || c.cfg.Interval != DefaultInterval || c.pace != 500*time.Millisecond {
		t.Errorf("defaults: %+v, pace %s", c.cfg, c.pace)
	}
	if err := c.Close(); err != nil { // never started
		t.Fatal(err)
	}
}
