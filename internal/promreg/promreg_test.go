package promreg

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestRegisterAllOrNone: a refused collector leaves none of the set in the
// registry, and a registered set comes out whole.
func TestRegisterAllOrNone(t *testing.T) {
	reg := prometheus.NewRegistry()
	taken := prometheus.NewCounter(prometheus.CounterOpts{Name: "taken_total", Help: "h"})
	reg.MustRegister(taken)

	a := prometheus.NewCounter(prometheus.CounterOpts{Name: "a_total", Help: "h"})
	b := prometheus.NewGauge(prometheus.GaugeOpts{Name: "b", Help: "h"})
	dup := prometheus.NewCounter(prometheus.CounterOpts{Name: "taken_total", Help: "h"})
	if err := Register(reg, a, b, dup); err == nil {
		t.Fatal("a set with a taken name registered")
	}
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 1 {
		t.Fatalf("after the refusal the registry has %d metrics (%v), want only the one it had", n, err)
	}

	if err := Register(reg, a, b); err != nil {
		t.Fatal(err)
	}
	if n, _ := testutil.GatherAndCount(reg); n != 3 {
		t.Fatalf("%d metrics registered, want 3", n)
	}
	Unregister(reg, a, b)
	if n, _ := testutil.GatherAndCount(reg); n != 1 {
		t.Fatalf("%d metrics after Unregister, want 1", n)
	}
}
