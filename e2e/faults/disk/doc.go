// Package disk holds the disk-full fault test (issue 18, fault 9,
// docs/faults.md): a shortify node whose data directory (the Raft log and
// snapshots, and on the embedded default also the SQLite link and stats
// databases and the broker's log) is a small tmpfs that the test fills
// with a file while links are created and followed. The node must refuse
// writes with a clear error, keep redirecting, lose nothing it
// acknowledged, and recover when the file is removed, without a restart.
//
// It mounts tmpfs, so it runs as root; it takes minutes and carries the
// build tag `faults`:
//
//	go run ./bench/faults -run TestFault09 -pkgs ./e2e/faults/disk -v
package disk
