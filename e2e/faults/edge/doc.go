// Package edge holds issue 18's fault tests of the edge (docs/faults.md):
// the broker down for a minute at load (fault 1), 500 config reloads at
// load (fault 8) and a slow link database (fault 10). Each runs the real
// shortify binary as an edge process, with its own Caddyfile, against the
// test PostgreSQL and Redis and an in-process Kafka-protocol broker
// (kfake, through internal/testkit/kafkatest), loads it open-loop with
// internal/testkit/loadgen, and reads the edge from outside: its
// answers, its metrics, its admin endpoint's profiles, /proc, and the
// click events that reached the topic. Fault 1 also runs a stats
// instance (the stats role's Caddyfile) and reads what it counted;
// fault 8 also reloads a control-plane node (a cluster of one) while it
// takes creates and API reads.
//
// The long variants carry the build tag `faults` (make faults); fault 8
// and fault 10 also run a shortened variant in make test (variant_*.go).
//
// SHORTIFY_EDGEFAULTS_KEEP=DIR keeps, in DIR, the edge's log of a failed
// test and goroutine dumps of an edge slow to recover from fault 10.
package edge
