package deliver

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/shortify/shortify/webhooks"
)

func TestGatherer(t *testing.T) {
	now := time.Unix(1000, 0)
	g := newGatherer(time.Second, 3)
	if g.due(now) || !g.empty() || g.wait(now) != time.Second {
		t.Fatal("a new gatherer is due or not empty")
	}
	a := webhooks.Endpoint{ID: "wh_a", Workspace: 1}
	b := webhooks.Endpoint{ID: "wh_b", Workspace: 2}
	click := func(i int) webhooks.Click {
		return webhooks.Click{Code: "c", Time: now.Add(time.Duration(i) * time.Millisecond)}
	}
	for i := range 2 {
		if err := g.addClick(a, coord{"clicks", 0, int64(i)}, click(i), now.Add(time.Duration(i)*100*time.Millisecond)); err != nil {
			t.Fatal(err)
		}
	}
	if err := g.addClick(b, coord{"clicks", 1, 0}, click(0), now.Add(500*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if g.due(now.Add(999 * time.Millisecond)) {
		t.Fatal("due before the window")
	}
	if w := g.wait(now.Add(600 * time.Millisecond)); w != 400*time.Millisecond {
		t.Fatalf("wait = %v, want the oldest batch's rest of the window", w)
	}
	if !g.due(now.Add(time.Second)) {
		t.Fatal("not due after the window")
	}
	// The third click fills a's batch: ready at once.
	if err := g.addClick(a, coord{"clicks", 0, 2}, click(2), now.Add(200*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if !g.due(now) || g.wait(now) != 0 {
		t.Fatal("a full batch is not due")
	}
	ds, err := g.drain()
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 2 || !g.empty() || g.due(now.Add(time.Hour)) {
		t.Fatalf("drain = %d deliveries, want 2, and nothing left", len(ds))
	}
	byEP := map[string]webhooks.Delivery{}
	for _, d := range ds {
		byEP[d.Endpoint] = d
	}
	var m struct {
		Type string              `json:"type"`
		Data webhooks.ClicksData `json:"data"`
	}
	if err := json.Unmarshal(byEP["wh_a"].Payload, &m); err != nil || len(m.Data.Clicks) != 3 || m.Type != "link.clicked" {
		t.Fatalf("a's batch %s: %v", byEP["wh_a"].Payload, err)
	}
	if byEP["wh_b"].Workspace != 2 || byEP["wh_b"].Event != webhooks.LinkClicked || byEP["wh_b"].ID == byEP["wh_a"].ID {
		t.Fatalf("b's delivery %+v", byEP["wh_b"])
	}
	// The same clicks again make the same IDs.
	g2 := newGatherer(time.Second, 3)
	for i := range 3 {
		_ = g2.addClick(a, coord{"clicks", 0, int64(i)}, click(i), now)
	}
	ds2, _ := g2.drain()
	if len(ds2) != 1 || ds2[0].ID != byEP["wh_a"].ID {
		t.Fatalf("the same batch made again has ID %v, want %s", ds2, byEP["wh_a"].ID)
	}
}

func TestGathererMaxClicks(t *testing.T) {
	g := newGatherer(time.Second, webhooks.MaxClicksPerDelivery)
	ep := webhooks.Endpoint{ID: "wh_a"}
	now := time.Unix(0, 0)
	for i := range 250 {
		if err := g.addClick(ep, coord{"clicks", 0, int64(i)}, webhooks.Click{Time: now}, now); err != nil {
			t.Fatal(err)
		}
	}
	ds, _ := g.drain()
	sizes := []int{}
	for _, d := range ds {
		var m struct {
			Data webhooks.ClicksData `json:"data"`
		}
		_ = json.Unmarshal(d.Payload, &m)
		sizes = append(sizes, len(m.Data.Clicks))
	}
	if len(sizes) != 3 || sizes[0] != 100 || sizes[1] != 100 || sizes[2] != 50 {
		t.Fatalf("batches of %v clicks, want 100, 100, 50", sizes)
	}
}
