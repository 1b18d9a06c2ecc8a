package fsm

import (
	"reflect"
	"strings"
	"testing"
)

func (a *applier) node(c Command) *NodeResult { return applyAs[*NodeResult](a, c) }

func TestNodeRegistry(t *testing.T) {
	a := newApplier(t)
	n1 := RegisterNode{ID: "n1", RaftAddr: "10.0.0.1:8300", APIAddr: "http://10.0.0.1:8080"}
	n2 := RegisterNode{ID: "n2", RaftAddr: "10.0.0.2:8300"}
	checkErr(t, a.node(n2).Err, nil)
	checkErr(t, a.node(n1).Err, nil)
	if got := a.f.Nodes(); !reflect.DeepEqual(got, []NodeInfo{NodeInfo(n1), NodeInfo(n2)}) {
		t.Fatalf("Nodes = %+v", got)
	}

	// Registering again replaces the entry.
	moved := RegisterNode{ID: "n2", RaftAddr: "10.0.0.9:8300", APIAddr: "https://n2.example"}
	checkErr(t, a.node(moved).Err, nil)
	if got, ok := a.f.Node("n2"); !ok || got != NodeInfo(moved) {
		t.Fatalf("Node(n2) = %+v, %v", got, ok)
	}

	// Refusals change nothing.
	before := a.f.State()
	for name, c := range map[string]Command{
		"empty ID":         RegisterNode{RaftAddr: "h:1"},
		"long ID":          RegisterNode{ID: strings.Repeat("x", MaxNodeIDLen+1), RaftAddr: "h:1"},
		"no Raft address":  RegisterNode{ID: "n3"},
		"long Raft addr":   RegisterNode{ID: "n3", RaftAddr: strings.Repeat("h", MaxAddrLen+1)},
		"long API address": RegisterNode{ID: "n3", RaftAddr: "h:1", APIAddr: strings.Repeat("h", MaxAddrLen+1)},
	} {
		checkErr(t, a.node(c).Err, ErrInvalidCommand)
		if !reflect.DeepEqual(a.f.State(), before) {
			t.Fatalf("%s: refused registration changed the state", name)
		}
	}
	checkErr(t, a.node(DeregisterNode{ID: "n3"}).Err, ErrUnknownNode)
	if !reflect.DeepEqual(a.f.State(), before) {
		t.Fatal("refused deregistration changed the state")
	}

	checkErr(t, a.node(DeregisterNode{ID: "n1"}).Err, nil)
	if _, ok := a.f.Node("n1"); ok {
		t.Fatal("n1 still registered")
	}
	if got := a.f.Nodes(); len(got) != 1 || got[0].ID != "n2" {
		t.Fatalf("Nodes = %+v", got)
	}
}

func TestSnapshotKeepsRegistry(t *testing.T) {
	a := newApplier(t)
	a.apply(RegisterNode{ID: "b", RaftAddr: "h:2", APIAddr: "http://h:8082"})
	a.apply(RegisterNode{ID: "a", RaftAddr: "h:1", APIAddr: "http://h:8081"})
	want := a.f.State()
	sink := persist(t, a.f)
	b := newApplier(t)
	if err := b.f.Restore(readCloser(&sink.Buffer)); err != nil {
		t.Fatal(err)
	}
	if got := b.f.State(); !reflect.DeepEqual(got, want) || len(got.Nodes) != 2 || got.Nodes[0].ID != "a" {
		t.Fatalf("restored %+v, want %+v", got, want)
	}
}
