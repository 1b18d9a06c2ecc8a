package caddyapp_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/shortify/shortify/internal/clickevents"
	"github.com/shortify/shortify/internal/linkevents"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/testkit/kafkatest"
	"github.com/shortify/shortify/internal/testkit/procs"
	"github.com/shortify/shortify/internal/testkit/testenv"
	"github.com/shortify/shortify/internal/testkit/teststore"
	"github.com/shortify/shortify/internal/testkit/webhooktest"
	"github.com/shortify/shortify/webhooks"
	"github.com/shortify/shortify/webhooks/store"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestKillNine is issue 17's test: the deliverer runs as a process of its
// own (the shortify binary with a Caddyfile of the app alone), consuming
// from a broker in this process. It is killed with SIGKILL while it
// delivers a stream of events, and started again: every event arrives at
// least once, every request's signature verifies, and the receiver,
// deduplicating by webhook-id, ends with exactly the events produced,
// each once; every click arrives, and deduplicating by click ID gives
// exactly the clicks produced.
func TestKillNine(t *testing.T) {
	began := time.Now()
	bin := testenv.Shortify(t)
	t.Logf("built the binary in %v", time.Since(began).Round(time.Millisecond))
	broker := kafkatest.StartBroker(t, 4, clickevents.DefaultTopic, linkevents.DefaultTopic)
	dsn := testenv.Schema(t)
	links := teststore.Postgres(t, dsn)
	whs, err := store.Open(t.Context(), store.Config{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(whs.Close)
	secret := newSecret()
	recv := webhooktest.NewReceiver(t, secret)
	other := webhooktest.NewReceiver(t, secret)
	if _, err := whs.CreateEndpoint(t.Context(), webhooks.Endpoint{Workspace: 1, URL: recv.URL(), Events: webhooks.Events, Secret: secret}); err != nil {
		t.Fatal(err)
	}
	if _, err := whs.CreateEndpoint(t.Context(), webhooks.Endpoint{Workspace: 2, URL: other.URL(), Events: webhooks.Events, Secret: secret}); err != nil {
		t.Fatal(err)
	}

	const n = 300 // links: a created event each in the first half, an updated one in the second
	const clicks = 400
	ls := make([]linkstore.Link, n)
	for i := range ls {
		ls[i] = linkstore.Link{ID: int64(5000 + i), Code: fmt.Sprintf("kill%04d", i), URL: "https://k.example/" + fmt.Sprint(i),
			WorkspaceID: 1, CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	}
	for i, err := range links.CreateMany(t.Context(), ls) {
		if err != nil {
			t.Fatalf("link %d: %v", i, err)
		}
	}

	dir := t.TempDir()
	caddyfile := filepath.Join(dir, "Caddyfile")
	conf := fmt.Sprintf(`{
	admin off
	persist_config off
	shortify_webhooks {
		brokers %s
		database %s
		public_url https://s.example
		outbound_allow_private on
		session_timeout 6s
		timeout 2s
	}
}
`, broker.Addr(), dsn)
	if err := os.WriteFile(caddyfile, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	start := func(name string) *procs.Process {
		t.Helper()
		cmd := exec.Command(bin, "run", "--config", caddyfile, "--adapter", "caddyfile")
		p, err := procs.Start(name, cmd, filepath.Join(dir, name+".log"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Stop(syscall.SIGINT, 10*time.Second) })
		return p
	}

	want := map[string]bool{} // "type code"
	var first []*kgo.Record
	for i, l := range ls {
		ev := linkevents.NewCreated(l, time.Now())
		first = append(first, eventRecord(t, ev))
		want[string(webhooks.LinkCreated)+" "+l.Code] = true
		if i < clicks {
			first = append(first, clickRecord(t, l, i))
		}
	}
	for i := n; i < clicks; i++ {
		first = append(first, clickRecord(t, ls[i%n], i))
	}
	var second []*kgo.Record
	for _, l := range ls {
		second = append(second, eventRecord(t, linkevents.NewUpdated(l, time.Now())))
		want[string(webhooks.LinkUpdated)+" "+l.Code] = true
	}

	p := start("deliverer-1")
	produce(t, broker.Addr(), first)
	testenv.WaitFor(t, "the first messages", 2*time.Minute, func() bool { return len(recv.Messages()) >= 50 })
	p.Kill()
	killedAt := len(recv.Messages())
	t.Logf("killed with -9 after %d of %d distinct messages", killedAt, len(want))
	produce(t, broker.Addr(), second)
	restarted := time.Now()
	start("deliverer-2")

	testenv.WaitFor(t, "every event and click", 2*time.Minute, func() bool {
		got, _ := recv.Clicks()
		return countEvents(recv) == len(want) && len(got) == clicks
	})
	t.Logf("every event delivered %v after the restart (the dead member's session, 6 s, and its claims' lease, 6 s, end first)",
		time.Since(restarted).Round(time.Millisecond))
	got := map[string]int{}
	for _, m := range recv.Messages() {
		if m.Link != nil {
			got[string(m.Type)+" "+m.Link.Code]++
		}
	}
	for k := range want {
		if got[k] != 1 {
			t.Errorf("%s came under %d webhook-ids, want 1", k, got[k])
		}
	}
	for k := range got {
		if !want[k] {
			t.Errorf("unexpected message %s", k)
		}
	}
	clickSet, clickTotal := recv.Clicks()
	if len(clickSet) != clicks {
		t.Errorf("%d distinct clicks, want %d", len(clickSet), clicks)
	}
	if bad := recv.Refused(); len(bad) > 0 {
		t.Errorf("requests refused (signatures): %v", bad)
	}
	if n := len(other.Messages()) + len(other.Refused()); n != 0 {
		t.Errorf("workspace 2's endpoint got %d requests", n)
	}
	t.Logf("%d distinct messages; %d requests repeated a webhook-id already received; %d clicks delivered for %d distinct",
		len(recv.Messages()), recv.Duplicates(), clickTotal, len(clickSet))
}

func countEvents(r *webhooktest.Receiver) int {
	k := 0
	for _, m := range r.Messages() {
		if m.Link != nil {
			k++
		}
	}
	return k
}

// produce writes recs with one client, acknowledged.
func produce(t *testing.T, addr string, recs []*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func newSecret() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

func eventRecord(t *testing.T, ev linkevents.Event) *kgo.Record {
	t.Helper()
	v, err := linkevents.Encode(ev)
	if err != nil {
		t.Fatal(err)
	}
	return &kgo.Record{Topic: linkevents.DefaultTopic, Key: ev.Key(), Value: v, Timestamp: ev.At}
}

func clickRecord(t *testing.T, l linkstore.Link, i int) *kgo.Record {
	t.Helper()
	ev := clickevents.Event{Time: time.Now(), Code: l.Code, LinkID: l.ID, Status: 302, Country: "NL",
		UserAgent: fmt.Sprintf("agent-%d", i), Workspace: l.WorkspaceID}
	v, err := ev.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return &kgo.Record{Topic: clickevents.DefaultTopic, Key: ev.Key(), Value: v, Timestamp: ev.Time}
}
