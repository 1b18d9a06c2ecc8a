package aggregate_test

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/shortify/shortify/stats/aggregate"
	"github.com/shortify/shortify/stats/aggregate/aggtest"
	"github.com/shortify/shortify/stats/hll"
)

func sketchBytes(t *testing.T, s *hll.Sketch) []byte {
	t.Helper()
	if s == nil {
		return nil
	}
	b, err := s.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRowsMatchReference aggregates random events over three days (hour
// and day boundaries, two links sharing a code, bots by flag and by user
// agent, unknown visitors) and compares every row of every grain and
// dimension with the reference.
func TestRowsMatchReference(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 8))
	start := time.Date(2026, 11, 24, 22, 30, 0, 0, time.UTC)
	evs := aggtest.Events(rng, 20_000, aggtest.Links(12), start, 50*time.Hour, 300)
	truth := aggtest.Compute(evs)

	b := aggregate.NewBatch()
	for i := range evs {
		b.Add(&evs[i])
	}
	if b.Events() != len(evs) {
		t.Fatalf("Events() = %d, want %d", b.Events(), len(evs))
	}
	rows := b.Rows()
	if len(rows) != len(truth.Clicks) {
		t.Errorf("%d rows, reference has %d", len(rows), len(truth.Clicks))
	}
	grains := map[aggregate.Grain]int{}
	for _, r := range rows {
		rk := aggtest.RowKey{Grain: r.Grain, Key: r.Key}
		grains[r.Grain]++
		if want := truth.Clicks[rk]; r.Clicks != want {
			t.Errorf("%v %+v: %d clicks, want %d", r.Grain, r.Key, r.Clicks, want)
		}
		if got, want := sketchBytes(t, r.Visitors), sketchBytes(t, truth.Sketch(rk)); !bytes.Equal(got, want) {
			t.Errorf("%v %+v: visitors sketch differs from the reference's", r.Grain, r.Key)
		}
	}
	if grains[aggregate.Hour] == 0 || grains[aggregate.Day] < 3 {
		t.Errorf("rows per grain %v: the data spans 50 hours and 3 days", grains)
	}
	dims := 0
	perDim := map[string]int{}
	for _, r := range rows {
		for _, d := range aggregate.Dimensions {
			for i, v := range r.Dims[d] {
				if i > 0 && r.Dims[d][i-1].Value >= v.Value {
					t.Errorf("%v %+v: %s values out of order", r.Grain, r.Key, d)
				}
				dims++
				dk := aggtest.DimKey{RowKey: aggtest.RowKey{Grain: r.Grain, Key: r.Key}, Dimension: d.String(), Value: v.Value}
				perDim[d.String()]++
				if want := truth.Dims[dk]; v.Clicks != want {
					t.Errorf("%+v: %d clicks, want %d", dk, v.Clicks, want)
				}
			}
		}
	}
	if dims != len(truth.Dims) {
		t.Errorf("%d dimension values, reference has %d", dims, len(truth.Dims))
	}
	for _, d := range aggregate.Dimensions {
		if perDim[d.String()] == 0 {
			t.Errorf("no rows of dimension %s", d)
		}
	}
	// Reset empties the batch.
	b.Reset()
	if rows := b.Rows(); len(rows) != 0 || b.Events() != 0 {
		t.Errorf("after Reset: %d rows, %d events", len(rows), b.Events())
	}
}

// TestBotByUserAgent: a crawler's user agent makes bot traffic even when
// the edge did not flag it; device, browser and OS come from the header.
func TestBotByUserAgent(t *testing.T) {
	t.Parallel()
	evs := aggtest.Events(rand.New(rand.NewPCG(1, 1)), 1, aggtest.Links(1), time.Unix(1_790_000_000, 0), time.Hour, 1)
	evs[0].Bot = false
	evs[0].UserAgent = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
	b := aggregate.NewBatch()
	b.Add(&evs[0])
	rows := b.Rows()
	found := false
	for _, r := range rows {
		if !r.Bot {
			t.Errorf("row %+v is not bot traffic", r.Key)
		}
		for _, v := range r.Dims[aggregate.Browser] {
			if v.Value == "Googlebot" {
				found = true
			}
		}
	}
	if !found {
		t.Error("no browser row for Googlebot")
	}
}

func TestReferrerHost(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":                                   "",
		"https://www.google.com/search?q=x":  "www.google.com",
		"https://WWW.Google.COM:443/":        "www.google.com",
		"http://example.org":                 "example.org",
		"http://example.org.":                "example.org",
		"https://user:pw@example.org/p#f":    "example.org",
		"https://[2001:db8::1]:8080/x":       "[2001:db8::1]",
		"https://[2001:db8::1":               "",
		"android-app://com.slack/":           "com.slack",
		"//cdn.example.net/x":                "cdn.example.net",
		"example.com/path":                   "example.com",
		"not a url at all":                   "",
		"https://exa mple.com/":              "",
		"https://bad%20host/":                "",
		"https:///path-only":                 "",
		"https://xn--bcher-kva.example/":     "xn--bcher-kva.example",
		"  https://padded.example/  ":        "padded.example",
		"https://example.com?q=http://other": "example.com",
		// Unicode hosts are kept in punycode; look-alikes show as such.
		"https://bücher.example/":   "xn--bcher-kva.example",
		"https://pаypal.com/login":  "xn--pypal-4ve.com",
		"https://ＥＸＡＭＰＬＥ.com/":      "example.com",
		"https://\xff\xfe.example/": "",
		"https://<script>.example/": "",
		"javascript:alert(1)":       "javascript",
	} {
		if got := aggregate.ReferrerHost(in); got != want {
			t.Errorf("ReferrerHost(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzReferrerHost(f *testing.F) {
	f.Add("https://www.google.com/search?q=x")
	f.Add("https://[::1]:80/")
	f.Fuzz(func(t *testing.T, ref string) {
		h := aggregate.ReferrerHost(ref)
		if len(h) > aggregate.MaxHostLen {
			t.Fatalf("host of %d bytes", len(h))
		}
		if aggregate.ReferrerHost(h) != h {
			t.Fatalf("ReferrerHost(%q) = %q is not stable", ref, h)
		}
	})
}
