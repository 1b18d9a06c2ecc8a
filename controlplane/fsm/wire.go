package fsm

import (
	"encoding/json"
	"errors"
	"fmt"
)

// The wire form of responses, for forwarding.
//
// A follower that needs a write sends the encoded command to the leader
// (see Decode), which applies it and answers with EncodeResponse's JSON:
//
//	{"result":{"worker":3,"gen":7,...},"error":{"kind":"not_holder","message":"..."}}
//
// DecodeResponse turns it back into the response Apply would have
// returned, with the business error wrapping the same sentinel, so that
// the proposer cannot tell a forwarded command from a local one.

// errorKinds names the business errors on the wire. Names are part of the
// wire format: never rename one.
var errorKinds = []struct {
	kind string
	err  error
}{
	{"invalid_command", ErrInvalidCommand},
	{"already_initialised", ErrAlreadyInitialised},
	{"no_free_worker", ErrNoFreeWorker},
	{"not_holder", ErrNotHolder},
	{"sequence_exhausted", ErrSequenceExhausted},
	{"unknown_node", ErrUnknownNode},
	{"key_exists", ErrKeyExists},
	{"unknown_key", ErrUnknownKey},
	{"workspace_exists", ErrWorkspaceExists},
	{"unknown_workspace", ErrUnknownWorkspace},
	{"workspace_not_empty", ErrWorkspaceNotEmpty},
	{"domain_taken", ErrDomainTaken},
	{"domain_exists", ErrDomainExists},
	{"unknown_domain", ErrUnknownDomain},
}

// wireResponse is the JSON form of a response.
type wireResponse struct {
	Result json.RawMessage `json:"result"`
	Error  *wireError      `json:"error,omitempty"`
}

// wireError is the JSON form of a business error.
type wireError struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

// remoteError is a business error decoded from the wire: it prints the
// leader's message and unwraps to the sentinel of its kind.
type remoteError struct {
	msg      string
	sentinel error // nil for a kind this version does not know
}

// Error implements error: the leader's message.
func (e *remoteError) Error() string { return e.msg }

// Unwrap returns the sentinel of the error's kind.
func (e *remoteError) Unwrap() error { return e.sentinel }

// response is implemented by every response type.
type response interface {
	businessErr() error
	setBusinessErr(error)
}

func (r *InitResult) businessErr() error      { return r.Err }
func (r *InitResult) setBusinessErr(e error)  { r.Err = e }
func (r *LeaseResult) businessErr() error     { return r.Err }
func (r *LeaseResult) setBusinessErr(e error) { r.Err = e }
func (r *BlockResult) businessErr() error     { return r.Err }
func (r *BlockResult) setBusinessErr(e error) { r.Err = e }
func (r *NodeResult) businessErr() error      { return r.Err }
func (r *NodeResult) setBusinessErr(e error)  { r.Err = e }

// newResponse returns an empty response for a command type.
func newResponse(t CommandType) (response, error) {
	switch t {
	case TypeInitCluster:
		return new(InitResult), nil
	case TypeAcquireLease, TypeRenewLease, TypeReleaseLease:
		return new(LeaseResult), nil
	case TypeAllocateBlock:
		return new(BlockResult), nil
	case TypeRegisterNode, TypeDeregisterNode:
		return new(NodeResult), nil
	case TypeAddKey, TypeRevokeKey:
		return new(KeyResult), nil
	case TypeSetDomainBlocked:
		return new(DomainResult), nil
	case TypeSetPartitionPolicy:
		return new(PolicyResult), nil
	case TypeRecordPartitions:
		return new(CatalogueResult), nil
	case TypeCreateWorkspace, TypeUpdateWorkspace, TypeDeleteWorkspace:
		return new(WorkspaceResult), nil
	case TypeAddDomain, TypeVerifyDomain, TypeSetDomainSettings, TypeDeleteDomain:
		return new(DomainEntryResult), nil
	default:
		return nil, fmt.Errorf("fsm: no response type for %s", t)
	}
}

// EncodeResponse turns what Apply returned for a command into its wire
// form.
func EncodeResponse(resp any) ([]byte, error) {
	r, ok := resp.(response)
	if !ok {
		return nil, fmt.Errorf("fsm: encode response: %T is not a command response", resp)
	}
	result, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("fsm: encode response %T: %w", resp, err)
	}
	w := wireResponse{Result: result}
	if e := r.businessErr(); e != nil {
		w.Error = &wireError{Message: e.Error()}
		for _, k := range errorKinds {
			if errors.Is(e, k.err) {
				w.Error.Kind = k.kind
				break
			}
		}
	}
	out, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("fsm: encode response %T: %w", resp, err)
	}
	return out, nil
}

// DecodeResponse turns the wire form of the response to a command of type
// t back into the value Apply returned: *InitResult, *LeaseResult,
// *BlockResult or *NodeResult, whose Err wraps the sentinel the leader's
// did.
func DecodeResponse(t CommandType, data []byte) (any, error) {
	r, err := newResponse(t)
	if err != nil {
		return nil, err
	}
	var w wireResponse
	if err := json.Unmarshal(data, &w); err != nil {
		return nil, fmt.Errorf("fsm: decode %s response: %w", t, err)
	}
	if len(w.Result) == 0 {
		return nil, fmt.Errorf("fsm: decode %s response: no result", t)
	}
	if err := json.Unmarshal(w.Result, r); err != nil {
		return nil, fmt.Errorf("fsm: decode %s response: %w", t, err)
	}
	if w.Error != nil {
		e := &remoteError{msg: w.Error.Message}
		for _, k := range errorKinds {
			if k.kind == w.Error.Kind {
				e.sentinel = k.err
				break
			}
		}
		if e.msg == "" {
			e.msg = "error " + w.Error.Kind
		}
		r.setBusinessErr(e)
	}
	return r, nil
}
