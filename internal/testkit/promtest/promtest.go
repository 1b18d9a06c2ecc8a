// Package promtest reads Prometheus metrics in tests: every sample of a
// registry as one flat map, so a test states the values it expects as a
// table of "name{label=value,...}" keys; and the /metrics page of a
// process a test, a benchmark or the load test started (Get).
package promtest

import (
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// Samples gathers g and returns the samples of the metric families whose
// names start with prefix, keyed "name{l1=v1,l2=v2}" with the labels sorted
// by name ("name{}" without labels). A histogram gives two samples,
// "name_count{...}" and "name_sum{...}"; a summary likewise.
func Samples(tb testing.TB, g prometheus.Gatherer, prefix string) map[string]float64 {
	tb.Helper()
	mfs, err := g.Gather()
	if err != nil {
		tb.Fatalf("promtest: gather: %v", err)
	}
	out := make(map[string]float64)
	for _, mf := range mfs {
		name := mf.GetName()
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := make([]string, 0, len(m.GetLabel()))
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			sort.Strings(labels)
			set := "{" + strings.Join(labels, ",") + "}"
			switch {
			case m.Counter != nil:
				out[name+set] = m.Counter.GetValue()
			case m.Gauge != nil:
				out[name+set] = m.Gauge.GetValue()
			case m.Untyped != nil:
				out[name+set] = m.Untyped.GetValue()
			case m.Histogram != nil:
				out[name+"_count"+set] = float64(m.Histogram.GetSampleCount())
				out[name+"_sum"+set] = m.Histogram.GetSampleSum()
			case m.Summary != nil:
				out[name+"_count"+set] = float64(m.Summary.GetSampleCount())
				out[name+"_sum"+set] = m.Summary.GetSampleSum()
			}
		}
	}
	return out
}
