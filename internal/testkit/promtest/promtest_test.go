package promtest

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestSamples(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "x_requests_total", Help: "h"}, []string{"z", "a"})
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "x_depth", Help: "h"})
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "x_seconds", Help: "h"})
	other := prometheus.NewGauge(prometheus.GaugeOpts{Name: "y_other", Help: "h"})
	reg.MustRegister(c, g, h, other)
	c.WithLabelValues("1", "2").Add(3)
	g.Set(7)
	h.Observe(0.5)
	h.Observe(1.5)
	other.Set(1)

	got := Samples(t, reg, "x_")
	want := map[string]float64{
		"x_requests_total{a=2,z=1}": 3,
		"x_depth{}":                 7,
		"x_seconds_count{}":         2,
		"x_seconds_sum{}":           2,
	}
	if len(got) != len(want) {
		t.Errorf("got %d samples %v, want %d", len(got), got, len(want))
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
}
