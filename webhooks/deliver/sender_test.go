package deliver

import (
	"time"

	"testing"

	"github.com/shortify/shortify/webhooks"
)

func TestFair(t *testing.T) {
	d := func(ep, id string) webhooks.Delivery { return webhooks.Delivery{Endpoint: ep, ID: id} }
	in := []webhooks.Delivery{d("a", "a1"), d("a", "a2"), d("a", "a3"), d("b", "b1"), d("c", "c1"), d("b", "b2")}
	var got []string
	for _, x := range fair(in) {
		got = append(got, x.ID)
	}
	want := []string{"a1", "b1", "c1", "a2", "b2", "a3"}
	if len(got) != len(want) {
		t.Fatalf("fair = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("fair = %v, want %v", got, want)
		}
	}
	if one := fair(in[:3]); len(one) != 3 || one[0].ID != "a1" {
		t.Fatalf("one endpoint: %v", one)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 12, 5, 7, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"": 0, "120": 2 * time.Minute, "0": 0, "-5": 0, "soon": 0, "99999999": time.Hour,
		"Sat, 05 Dec 2026 07:00:30 GMT": 30 * time.Second, "Sat, 05 Dec 2026 06:00:00 GMT": 0,
		"Sun, 06 Dec 2026 07:00:00 GMT": time.Hour,
	} {
		if got := retryAfter(in, now); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}
