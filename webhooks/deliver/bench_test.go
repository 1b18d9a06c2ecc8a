package deliver

import (
	"testing"
	"time"

	"github.com/shortify/shortify/internal/clickevents"
	"github.com/shortify/shortify/internal/useragent"
	"github.com/shortify/shortify/webhooks"
)

// BenchmarkClickPath is the consumer's work for a click of a workspace
// with an endpoint, besides the cached subscriber lookup: decode, the
// payload form (agent families, referrer host, click ID) and the batch.
func BenchmarkClickPath(b *testing.B) {
	ev := clickevents.Event{
		Time: time.Now(), Code: "a9ZkQ2", LinkID: 1234567890123456789, Status: 302, Visitor: 42, Country: "DE",
		UserAgent: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
		Referrer:  "https://news.example.com/some/path?q=1", Workspace: 7,
	}
	v, err := ev.MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	ep := webhooks.Endpoint{ID: "wh_bench", Workspace: 7}
	g := newGatherer(time.Second, webhooks.MaxClicksPerDelivery)
	var ua useragent.Cache
	now := time.Now()
	b.ReportAllocs()
	for i := range b.N {
		var e clickevents.Event
		if err := e.UnmarshalBinary(v); err != nil {
			b.Fatal(err)
		}
		at := coord{Topic: "clicks", Partition: 3, Offset: int64(i)}
		if err := g.addClick(ep, at, clickOf(&e, at, &ua), now); err != nil {
			b.Fatal(err)
		}
		if len(g.ready) > 64 {
			g.ready = g.ready[:0]
		}
	}
}
