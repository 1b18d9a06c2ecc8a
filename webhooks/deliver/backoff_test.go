package deliver

import (
	"testing"
	"time"

	"github.com/shortify/shortify/webhooks"
)

func TestBackoff(t *testing.T) {
	want := []time.Duration{
		5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute, 30 * time.Minute,
		time.Hour, 2 * time.Hour, 4 * time.Hour, 8 * time.Hour,
	}
	var total time.Duration
	attempts := 0
	for n := 1; ; n++ {
		d, ok := Backoff(n, 0)
		if !ok {
			attempts = n
			break
		}
		if n <= len(want) && d != want[n-1] {
			t.Errorf("Backoff(%d) = %v, want %v", n, d, want[n-1])
		}
		if n > 1 {
			if prev, _ := Backoff(n-1, 0); d > prev && n > len(want) {
				t.Errorf("Backoff(%d) = %v grew past the schedule (%v)", n, d, prev)
			}
		}
		total += d
		if n > 100 {
			t.Fatal("retries never end")
		}
	}
	if total != webhooks.RetryFor {
		t.Errorf("pauses add up to %v, want RetryFor %v", total, webhooks.RetryFor)
	}
	// 9 scheduled pauses fill 15h42m35s, a tenth of 8h and an eleventh,
	// cut to 17m25s, the rest: 12 attempts.
	if attempts != 12 {
		t.Errorf("fails for good after attempt %d, want 12", attempts)
	}
	if d, ok := Backoff(0, 0); !ok || d != 5*time.Second {
		t.Errorf("Backoff(0) = %v, %v; want the first pause", d, ok)
	}
}

func TestBackoffJitter(t *testing.T) {
	for _, r := range []float64{0, 0.5, 0.999} {
		for n := 1; n <= 10; n++ {
			d, _ := Backoff(n, r)
			nominal, _ := Backoff(n, 0)
			if d > nominal || float64(d) < float64(nominal)*(1-Jitter) {
				t.Errorf("Backoff(%d, %v) = %v, outside [%v, %v]", n, r, d, time.Duration(float64(nominal)*(1-Jitter)), nominal)
			}
		}
	}
}

func TestIDs(t *testing.T) {
	a := coord{"shortify.link-events", 3, 1234}
	if deliveryID(a, "wh_1") != deliveryID(a, "wh_1") {
		t.Fatal("deliveryID is not deterministic")
	}
	seen := map[string]bool{}
	for _, id := range []string{
		deliveryID(a, "wh_1"), deliveryID(a, "wh_2"),
		deliveryID(coord{"shortify.link-events", 3, 1235}, "wh_1"),
		deliveryID(coord{"shortify.link-events", 4, 1234}, "wh_1"),
		deliveryID(coord{"clicks", 3, 1234}, "wh_1"),
		clickID(a),
	} {
		if seen[id] {
			t.Errorf("ID %s made twice", id)
		}
		seen[id] = true
		if len(id) != 4+2*idWidth {
			t.Errorf("ID %s has %d characters", id, len(id))
		}
	}
	b1, b2 := newBatchID("wh_1"), newBatchID("wh_1")
	for _, b := range []batchID{b1, b2} {
		b.add(a)
		b.add(coord{"clicks", 0, 7})
	}
	if b1.id() != b2.id() {
		t.Fatal("batchID is not deterministic")
	}
	b3 := newBatchID("wh_1")
	b3.add(a)
	if b3.id() == b1.id() {
		t.Fatal("batches of other clicks share an ID")
	}
}
