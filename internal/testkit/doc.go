// Package testkit holds no code: its subpackages are the scaffolding of
// tests and local tools (test services, a Caddy harness, Prometheus and
// Kafka helpers, the control plane's registries without Raft, the
// processes of `make stack`), kept in one folder so
// that it is plain that nothing shipped may import them. A test in
// internal/doccheck would catch a shipped package that did
// (TestShippedCodeDoesNotImportTestkit).
package testkit
