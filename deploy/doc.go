// Package deploy holds what runs Shortify outside the embedded default:
// the role Caddyfiles (caddyfiles/), a production-shaped docker compose
// stack (compose/), Kubernetes manifests (kubernetes/), Prometheus's scrape
// configuration (prometheus/) and Grafana's provisioning and dashboard
// (grafana/). It has no Go code of its own; its tests parse every file
// and check the references between them (service names, ports, labels,
// selectors, ConfigMap and Secret keys, metric names), and adapt each role
// Caddyfile with the real Shortify modules in the environment each
// deployment gives it.
package deploy
