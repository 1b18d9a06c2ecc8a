// Package promreg registers a component's Prometheus collectors as one:
// all of them or none, and takes them out again. Caddy apps register in
// Start and unregister in Stop, so that a config reload, which keeps the
// registry of the metrics app, neither fails on collectors of the old
// config nor leaves half a set behind.
package promreg

import "github.com/prometheus/client_golang/prometheus"

// Register adds cs to reg. When one is refused it takes out those it
// added and returns the refusal.
func Register(reg prometheus.Registerer, cs ...prometheus.Collector) error {
	for i, c := range cs {
		if err := reg.Register(c); err != nil {
			Unregister(reg, cs[:i]...)
			return err
		}
	}
	return nil
}

// Unregister takes cs out of reg.
func Unregister(reg prometheus.Registerer, cs ...prometheus.Collector) {
	for _, c := range cs {
		reg.Unregister(c)
	}
}
