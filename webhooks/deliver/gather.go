package deliver

import (
	"time"

	"github.com/shortify/shortify/webhooks"
)

// gatherer holds what the consumer has read since its last flush: the
// deliveries ready to enqueue (link events, full click batches) and the
// click batches still open, one per endpoint. The consumer flushes them
// all at once, then commits the offsets of every record read: a record's
// offset is committed only after its deliveries are enqueued.
type gatherer struct {
	window    time.Duration
	maxClicks int

	ready []webhooks.Delivery
	open  map[string]*clickBatch // by endpoint ID
	// oldest is when the oldest open batch was opened (zero: none open).
	oldest time.Time
}

// clickBatch is the clicks gathered for one endpoint.
type clickBatch struct {
	ep     webhooks.Endpoint
	clicks []webhooks.Click
	id     batchID
}

func newGatherer(window time.Duration, maxClicks int) *gatherer {
	return &gatherer{window: window, maxClicks: maxClicks, open: map[string]*clickBatch{}}
}

// addDelivery adds a delivery ready to go.
func (g *gatherer) addDelivery(d webhooks.Delivery) { g.ready = append(g.ready, d) }

// addClick adds the click of record c to ep's batch, opened at now when
// it has none; a batch that reaches maxClicks is closed.
func (g *gatherer) addClick(ep webhooks.Endpoint, c coord, click webhooks.Click, now time.Time) error {
	b := g.open[ep.ID]
	if b == nil {
		b = &clickBatch{ep: ep, id: newBatchID(ep.ID)}
		g.open[ep.ID] = b
		if g.oldest.IsZero() {
			g.oldest = now
		}
	}
	b.clicks = append(b.clicks, click)
	b.id.add(c)
	if len(b.clicks) >= g.maxClicks {
		delete(g.open, ep.ID)
		if len(g.open) == 0 {
			g.oldest = time.Time{}
		}
		return g.close(b)
	}
	return nil
}

// close makes a batch a ready delivery.
func (g *gatherer) close(b *clickBatch) error {
	body, err := encode(webhooks.LinkClicked, b.clicks[0].Time, &webhooks.ClicksData{Clicks: b.clicks})
	if err != nil {
		return err
	}
	g.ready = append(g.ready, webhooks.Delivery{
		ID: b.id.id(), Endpoint: b.ep.ID, Workspace: b.ep.Workspace, Event: webhooks.LinkClicked,
		Payload: body, CreatedAt: b.clicks[0].Time, State: webhooks.Pending,
	})
	return nil
}

// due reports whether it is time to flush at now: a delivery is ready,
// or the oldest open batch has waited the window.
func (g *gatherer) due(now time.Time) bool {
	return len(g.ready) > 0 || (!g.oldest.IsZero() && now.Sub(g.oldest) >= g.window)
}

// wait is how long until the oldest open batch is due (0: due now; the
// window itself when none is open).
func (g *gatherer) wait(now time.Time) time.Duration {
	if len(g.ready) > 0 {
		return 0
	}
	if g.oldest.IsZero() {
		return g.window
	}
	return max(g.window-now.Sub(g.oldest), 0)
}

// empty reports whether nothing is held.
func (g *gatherer) empty() bool { return len(g.ready) == 0 && len(g.open) == 0 }

// drain closes every open batch and returns every ready delivery,
// emptying the gatherer.
func (g *gatherer) drain() ([]webhooks.Delivery, error) {
	for id, b := range g.open {
		if err := g.close(b); err != nil {
			return nil, err
		}
		delete(g.open, id)
	}
	out := g.ready
	g.ready, g.oldest = nil, time.Time{}
	return out, nil
}
