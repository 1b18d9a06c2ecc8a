package kafkabroker

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/shortify/shortify/internal/clickevents"
	"github.com/shortify/shortify/internal/kafkasec"
	"github.com/shortify/shortify/internal/linkevents"
	"github.com/shortify/shortify/internal/testkit/kafkatest"
)

// deployUsers are the users and ACLs of deploy/ (internal/testkit/stack's
// kafka.Caddyfile): only the control plane writes link events.
func deployUsers(cp, edge, stats string) []User {
	return []User{
		{Name: "controlplane", Password: cp, Write: []string{linkevents.DefaultTopic}},
		{Name: "edge", Password: edge, Write: []string{clickevents.DefaultTopic}, Read: []string{linkevents.DefaultTopic}},
		{Name: "stats", Password: stats, Read: []string{clickevents.DefaultTopic, linkevents.DefaultTopic}, Groups: []string{"shortify-stats"}},
	}
}

// tryProduce produces one record to topic as user over TLS (SCRAM-SHA-512)
// and returns the error.
func tryProduce(t *testing.T, addr string, pki *kafkatest.PKI, user, pass, topic string) error {
	t.Helper()
	return kafkatest.TryProduce(t, addr, kafkasec.Config{CAFile: pki.CAFile, SASLMechanism: kafkasec.ScramSHA512, User: user, Password: pass}, topic)
}

const (
	cpPass    = "cp-Zq8Lr2Vn6Tb4Hm9Wk3Jy7Fd5Sg1Pc0Xa"
	edgePass  = "ed-Hm9Wk3Jy7Fd5Sg1Pc0XaZq8Lr2Vn6Tb4"
	statsPass = "st-Fd5Sg1Pc0XaZq8Lr2Vn6Tb4Hm9Wk3Jy7"
)

// TestACLsOnlyControlPlaneWritesLinkEvents (issue 12, finding 3): with
// deploy/'s users on the embedded broker, the edge's user cannot produce
// to the link-events topic (the broker answers an authorization error),
// nor can the stats user or a client without credentials; the control
// plane's user can, and the edge's may write clicks.
func TestACLsOnlyControlPlaneWritesLinkEvents(t *testing.T) {
	pki := kafkatest.NewPKI(t)
	b := start(t, Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), TLS: pki.ServerTLS(t, false),
		Users: deployUsers(cpPass, edgePass, statsPass)})
	addr := b.Addr()

	if err := tryProduce(t, addr, pki, "edge", edgePass, linkevents.DefaultTopic); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("the edge produced to %s: %v, want TOPIC_AUTHORIZATION_FAILED", linkevents.DefaultTopic, err)
	}
	// Stats may write nowhere, so its idempotent producer is refused
	// before it gets to the topic.
	if err := tryProduce(t, addr, pki, "stats", statsPass, linkevents.DefaultTopic); !errors.Is(err, kerr.ClusterAuthorizationFailed) {
		t.Errorf("stats produced to %s: %v, want CLUSTER_AUTHORIZATION_FAILED", linkevents.DefaultTopic, err)
	}
	if err := tryProduce(t, addr, pki, "controlplane", cpPass, linkevents.DefaultTopic); err != nil {
		t.Errorf("the control plane could not produce link events: %v", err)
	}
	if err := tryProduce(t, addr, pki, "edge", edgePass, clickevents.DefaultTopic); err != nil {
		t.Errorf("the edge could not produce clicks: %v", err)
	}
	if err := tryProduce(t, addr, pki, "controlplane", cpPass, clickevents.DefaultTopic); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("the control plane produced clicks: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	if err := tryProduce(t, addr, pki, "edge", statsPass, clickevents.DefaultTopic); err == nil {
		t.Error("the edge got in with another user's password")
	}

	// Without credentials (TLS only) nothing gets through either.
	if err := kafkatest.TryProduce(t, addr, kafkasec.Config{CAFile: pki.CAFile}, linkevents.DefaultTopic); err == nil {
		t.Error("an anonymous client produced link events")
	}
}

// TestRestartRotates: the configuration is the only source of users and
// ACLs, also over a data directory of an earlier run: a changed password
// takes effect (the old one fails) and a revoked grant is gone.
func TestRestartRotates(t *testing.T) {
	pki := kafkatest.NewPKI(t)
	dir := t.TempDir()
	b := start(t, Config{Listen: "127.0.0.1:0", DataDir: dir, TLS: pki.ServerTLS(t, false),
		Users: deployUsers(cpPass, edgePass, statsPass)})
	addr := b.Addr()
	if err := tryProduce(t, addr, pki, "edge", edgePass, clickevents.DefaultTopic); err != nil {
		t.Fatalf("first run: %v", err)
	}
	b.Close()

	const rotated = "ed2-Lr2Vn6Tb4Hm9Wk3Jy7Fd5Sg1Pc0XaZq8"
	users := deployUsers(cpPass, rotated, statsPass)
	users[1].Write = nil // the edge may no longer write clicks
	users[0].Write = append(users[0].Write, clickevents.DefaultTopic)
	b = start(t, Config{Listen: addr, DataDir: dir, TLS: pki.ServerTLS(t, false), Users: users})
	if err := tryProduce(t, addr, pki, "edge", edgePass, linkevents.DefaultTopic); err == nil || errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("the old edge password after rotation: %v, want a failed login", err)
	}
	if err := tryProduce(t, addr, pki, "edge", rotated, clickevents.DefaultTopic); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Errorf("the revoked grant: %v, want TOPIC_AUTHORIZATION_FAILED", err)
	}
	if err := tryProduce(t, addr, pki, "controlplane", cpPass, clickevents.DefaultTopic); err != nil {
		t.Errorf("the new grant: %v", err)
	}
}
