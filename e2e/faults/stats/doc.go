// Package stats holds the fault test of the stats pipeline (issue 18,
// fault 7, docs/faults.md): stats instances run as real processes (the
// shortify binary with deploy/caddyfiles/stats.Caddyfile, one consumer
// group) against a Kafka-protocol broker and the test PostgreSQL, while
// clicks flow; instances are killed with SIGKILL in the middle of a batch
// and join and leave the group again and again, and the aggregates must
// equal the ground truth read back from the clicks topic exactly.
//
// The test takes minutes and carries the build tag `faults`:
//
//	go run ./bench/faults -run TestFault07 -pkgs ./e2e/faults/stats -v
package stats
