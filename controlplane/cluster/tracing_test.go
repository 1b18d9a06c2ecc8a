package cluster_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/shortify/shortify/controlplane/cluster"
	"github.com/shortify/shortify/controlplane/fsm"
	"github.com/shortify/shortify/internal/testkit/spantest"
	"github.com/shortify/shortify/internal/tracing"
)

// TestTracingForwardedCreate: a create that goes through Raft (a
// workspace) sent to a follower of a three-node cluster, under the
// follower's request span, is proposed there and forwarded to the
// leader, whose raft.apply continues the same trace: the follower's
// raft.propose span (recorded with the request's provider) is its
// parent, carried in the forwarded call's traceparent; the leader
// exports it with the process's own provider (OTLP to a loopback
// collector). The follower applies nothing itself.
func TestTracingForwardedCreate(t *testing.T) {
	col := spantest.NewCollector(t)
	col.Setenv(t)
	release, err := tracing.Acquire(t.Context()) // as the control plane's service does
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = release(context.Background()) }()

	c := newCluster(t, 3, nil)
	lead := leader(t, 10*time.Second, c.nodes...)
	follower := others(c.nodes, lead)[0]
	admin := addKey(t, lead, "admin")

	rec := spantest.New(t)
	ctx, root := rec.Root(cluster.WithCallerKey(t.Context(), admin), "POST /api/v1/admin/workspaces")
	ws, err := follower.node.CreateWorkspace(ctx, fsm.CreateWorkspace{Name: "traced", AtMs: time.Now().UnixMilli()})
	root.End()
	if err != nil {
		t.Fatalf("create a workspace on follower %s: %v", follower.cfg.NodeID, err)
	}
	rc := root.SpanContext()

	var propose string
	for _, s := range rec.Spans() {
		if strings.HasPrefix(s.Name, "raft.propose ") && s.Parent.SpanID() == rc.SpanID() && s.SpanContext.TraceID() == rc.TraceID() {
			propose = s.SpanContext.SpanID().String()
		}
		if s.Name == "raft.apply" {
			t.Errorf("the follower applied the command itself:%s", spantest.Dump(rec.Spans()))
		}
	}
	if propose == "" {
		t.Fatalf("no raft.propose span under the follower's request span:%s", spantest.Dump(rec.Spans()))
	}
	applies := col.Wait(t, "raft.apply in the request's trace", 30*time.Second, func(s spantest.Span) bool {
		return s.Name == "raft.apply" && s.TraceID == rc.TraceID().String()
	})
	if len(applies) != 1 || applies[0].ParentID != propose || applies[0].Attrs["shortify.raft.command"] != fsm.TypeCreateWorkspace.String() {
		t.Errorf("leader's raft.apply spans in the trace %+v: want one, child of the follower's raft.propose %s, command %s:%s",
			applies, propose, fsm.TypeCreateWorkspace, col.Dump())
	}
	if _, ok := lead.node.Workspace(ws.ID); !ok {
		t.Errorf("the leader has no workspace %d", ws.ID)
	}
}
