// Package data holds the fault tests of issue 18 that break the data
// engines under the production shape (internal/testkit/stack: a
// PostgreSQL primary and streaming replica, a Redis Cluster, the broker,
// three control-plane nodes, two edges and a front door, each a process):
//
//   - TestFault02PrimaryDown: the PostgreSQL primary down 30 s under load;
//   - TestFault03ReplicaBehind: the replica 30 s behind the primary;
//   - TestFault04RedisFailoverAndFlood: a Redis Cluster master killed
//     while a flood of random codes arrives and hot codes' L1 entries
//     expire.
//
// They take minutes, so they carry the build tag faults and run in
// `make faults` (docs/faults.md), never in `make test`. The package has
// no code of its own besides this comment.
package data
