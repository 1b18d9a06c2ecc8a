// Package creates measures link creation through the control plane's
// HTTP API under load: creates per second and per-request latency (p50,
// p99) with many concurrent clients, for one node and for a three-node
// Raft cluster with the creates spread over every node. Each node is
// built as the control plane builds it in production: its own PostgreSQL
// pool, its own group-commit batcher and the REST API on a real listener;
// all of them share one database.
//
// The benchmark is in creates_test.go; `make bench` runs it for a fixed
// number of creates per case and prints one line per case:
//
//	creates: nodes=1 clients=64 creates=20000 creates/s=7681 p50=7.8ms p99=18.4ms links/insert=13.7 distinct_codes=22001/22001 cpu/create: go=142us postgres=64us loadavg=3.63 (goal >= 5000/s on one node: met)
package creates
