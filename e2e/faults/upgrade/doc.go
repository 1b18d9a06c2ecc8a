// Package upgrade holds fault 13 of issue 18's fault suite, the rolling
// upgrade (docs/faults.md, "13. Rolling upgrade"): TestFault13RollingUpgrade
// builds the shortify binary of an earlier commit (pinned in the test) and
// of the working tree, runs the production-shaped stack
// (internal/testkit/stack) on the earlier one under load, and replaces its
// processes one at a time in the order docs/operations.md ("Upgrading")
// gives: control-plane followers, the leader, the edges, the stats
// instances. The test takes minutes, so it carries the build tag `faults`
// and runs in `make faults`; this file only names the package.
package upgrade
