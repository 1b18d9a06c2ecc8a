package fsm

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

func readCloser(r io.Reader) io.ReadCloser { return io.NopCloser(r) }

func TestDecodeRoundTrip(t *testing.T) {
	for _, c := range []Command{
		InitCluster{Key: key(4)},
		AcquireLease{Node: "a", NowMs: 5, TTLMs: 6},
		RenewLease{Node: "a", Worker: 1, Gen: 2, NowMs: 3, TTLMs: 4, LastMs: 5},
		ReleaseLease{Node: "a", Worker: 1, Gen: 2, LastMs: 5},
		AllocateBlock{Node: "a", Size: 10},
		RegisterNode{ID: "a", RaftAddr: "h:1", APIAddr: "http://h"},
		DeregisterNode{ID: "a"},
		SetPartitionPolicy{Policy: PartitionPolicy{MonthsAhead: 3, RetentionDays: 400, Detach: true}},
	} {
		data, err := Encode(c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(data)
		if err != nil {
			t.Fatalf("Decode(%s): %v", data, err)
		}
		if !reflect.DeepEqual(got, c) {
			t.Fatalf("Decode(%s) = %#v, want %#v", data, got, c)
		}
	}
}

// Decode refuses, without panicking, everything Apply would halt on.
func TestDecodeRefusesBadCommands(t *testing.T) {
	valid, _ := Encode(AllocateBlock{Node: "a", Size: 1})
	for name, data := range map[string][]byte{
		"empty":           nil,
		"unknown type":    append([]byte{200}, valid[1:]...),
		"type zero":       append([]byte{0}, valid[1:]...),
		"not JSON":        append([]byte{byte(TypeAllocateBlock)}, "{oops"...),
		"newer version":   append([]byte{byte(TypeRegisterNode)}, `{"_min_version":99,"id":"a","raft_addr":"h:1"}`...),
		"trailing data":   append(bytes.Clone(valid), `{}`...),
		"no payload":      {byte(TypeDeregisterNode)},
		"negative worker": append([]byte{byte(TypeRenewLease)}, `{"node":"a","worker":-1}`...),
	} {
		if c, err := Decode(data); err == nil {
			t.Errorf("%s: Decode accepted %q as %#v", name, data, c)
		}
	}
}

func TestResponseWire(t *testing.T) {
	a := newApplier(t)
	cases := []struct {
		cmd     Command
		wantErr error
	}{
		{InitCluster{Key: key(1)}, nil},
		{InitCluster{Key: key(2)}, ErrAlreadyInitialised},
		{AcquireLease{Node: "a", NowMs: 10, TTLMs: 100}, nil},
		{RenewLease{Node: "b", Worker: 0, Gen: 1, NowMs: 20, TTLMs: 100}, ErrNotHolder},
		{AllocateBlock{Node: "a", Size: 7}, nil},
		{AllocateBlock{Node: "a", Size: 0}, ErrInvalidCommand},
		{RegisterNode{ID: "a", RaftAddr: "h:1"}, nil},
		{DeregisterNode{ID: "zz"}, ErrUnknownNode},
		{SetPartitionPolicy{Policy: PartitionPolicy{MonthsAhead: 3, RetentionDays: 400}}, nil},
		{SetPartitionPolicy{Policy: PartitionPolicy{MonthsAhead: 0, RetentionDays: 400}}, ErrInvalidCommand},
		{RecordPartitions{AtMs: 5, Partitions: []PartitionRecord{{Table: "clicks", Name: "clicks_y2026m01", FromMs: 1, ToMs: 2, State: PartitionCreated}}}, nil},
		{RecordPartitions{AtMs: 5}, ErrInvalidCommand},
		{CreateWorkspace{Name: "acme", AtMs: 5}, nil},
		{CreateWorkspace{Name: "acme", AtMs: 5}, ErrWorkspaceExists},
		{UpdateWorkspace{ID: 9, Name: "x"}, ErrUnknownWorkspace},
		{AddDomain{Domain: "a.example", Workspace: 2, Challenge: challenge, AtMs: 6}, nil},
		{AddDomain{Domain: "a.example", Workspace: 1, Challenge: challenge, AtMs: 6}, ErrDomainTaken},
		{AddDomain{Domain: "a.example", Workspace: 2, Challenge: challenge, AtMs: 6}, ErrDomainExists},
		{DeleteWorkspace{ID: 2}, ErrWorkspaceNotEmpty},
		{VerifyDomain{Domain: "a.example", Workspace: 2, AtMs: 7}, nil},
		{SetDomainSettings{Domain: "a.example", Workspace: 1}, ErrUnknownDomain},
		{DeleteDomain{Domain: "a.example", Workspace: 2}, nil},
		{DeleteWorkspace{ID: 2}, nil},
	}
	for _, c := range cases {
		resp := a.apply(c.cmd)
		data, err := EncodeResponse(resp)
		if err != nil {
			t.Fatalf("%s: %v", c.cmd.Type(), err)
		}
		got, err := DecodeResponse(c.cmd.Type(), data)
		if err != nil {
			t.Fatalf("%s: decode %s: %v", c.cmd.Type(), data, err)
		}
		if reflect.TypeOf(got) != reflect.TypeOf(resp) {
			t.Fatalf("%s: decoded %T, want %T", c.cmd.Type(), got, resp)
		}
		gotErr, wantErr := got.(response).businessErr(), resp.(response).businessErr()
		checkErr(t, gotErr, c.wantErr)
		if wantErr != nil && gotErr.Error() != wantErr.Error() {
			t.Fatalf("%s: error %q, want %q", c.cmd.Type(), gotErr, wantErr)
		}
		got.(response).setBusinessErr(nil)
		resp.(response).setBusinessErr(nil)
		if !reflect.DeepEqual(got, resp) {
			t.Fatalf("%s: decoded %+v, want %+v", c.cmd.Type(), got, resp)
		}
	}
}

func TestResponseWireErrors(t *testing.T) {
	if _, err := EncodeResponse("not a response"); err == nil {
		t.Fatal("EncodeResponse accepted a string")
	}
	for name, data := range map[string]string{
		"not JSON":     `{`,
		"no result":    `{"error":{"kind":"not_holder","message":"x"}}`,
		"wrong result": `{"result":{"start":"one"}}`,
	} {
		if r, err := DecodeResponse(TypeAllocateBlock, []byte(data)); err == nil {
			t.Errorf("%s: decoded %+v", name, r)
		}
	}
	if _, err := DecodeResponse(CommandType(99), []byte(`{"result":{}}`)); err == nil {
		t.Fatal("decoded the response of an unknown command type")
	}
	// A kind this version does not know keeps its message.
	r, err := DecodeResponse(TypeAllocateBlock, []byte(`{"result":{},"error":{"kind":"from_the_future","message":"later"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if e := r.(*BlockResult).Err; e == nil || e.Error() != "later" || errors.Is(e, ErrInvalidCommand) {
		t.Fatalf("unknown kind decoded as %v", e)
	}
	if !strings.Contains(string(mustEncode(t, &LeaseResult{Err: ErrNoFreeWorker})), `"kind":"no_free_worker"`) {
		t.Fatal("sentinel not named on the wire")
	}
}

func mustEncode(t *testing.T, resp any) []byte {
	t.Helper()
	data, err := EncodeResponse(resp)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
