package deliver

import (
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
