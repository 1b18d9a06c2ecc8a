package cluster_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/shortify/shortify/controlplane/cluster"
	"github.com/shortify/shortify/internal/apikey"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// TestOneNodeWithoutTLSOpensNoPortAndKeepsItsData: the data directory of
// a one-node cluster that ran on a TCP transport (as the embedded default
// did, on 127.0.0.1:8300, before cluster TLS) opens without cluster TLS on
// raft's in-memory transport: it elects itself, keeps its keys and its
// place in the code sequence, and no Raft port listens.
func TestOneNodeWithoutTLSOpensNoPortAndKeepsItsData(t *testing.T) {
	cfg, gate, clk := nodeConfig(t, "node1")
	cfg.Bootstrap = true
	cfg.BindAddr = testenv.FreeAddr(t)
	cfg.APIAddr = ""
	old := startNode(t, cfg, gate, clk)
	key := addKey(t, old, "admin")
	before, err := old.node.NextCode()
	if err != nil {
		t.Fatal(err)
	}
	beforeSeq, err := old.node.Seq(before)
	if err != nil {
		t.Fatal(err)
	}
	old.close()
	old.node = nil // closed; the cleanup must not close it again

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	n, err := cluster.Open(ctx, cluster.Config{NodeID: "node1", DataDir: cfg.DataDir, BindAddr: cfg.BindAddr, Bootstrap: true, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("reopen without cluster TLS: %v", err)
	}
	defer n.Close()
	if st := n.State(); st.RaftState != "Leader" || st.Address != cfg.BindAddr {
		t.Fatalf("state %+v, want the leader at its old address", st)
	}
	if err := n.Ready(); err != nil {
		t.Fatalf("not ready: %v", err)
	}
	if _, ok := n.APIKey(keyID(t, key)); !ok {
		t.Fatal("the admin key is gone")
	}
	code, err := n.NextCode()
	if err != nil {
		t.Fatal(err)
	}
	if seq, err := n.Seq(code); err != nil || seq <= beforeSeq {
		t.Fatalf("code %s has sequence number %d (%v), want one after %d: a code would be issued twice", code, seq, err, beforeSeq)
	}
	if c, err := net.DialTimeout("tcp", cfg.BindAddr, time.Second); err == nil {
		c.Close()
		t.Fatalf("something listens at %s: a node without cluster TLS must open no Raft port", cfg.BindAddr)
	}
}

// keyID is the ID part of an API key.
func keyID(t testing.TB, key string) string {
	t.Helper()
	id, err := apikey.Parse(key)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
