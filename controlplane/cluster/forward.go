package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"time"

	"github.com/hashicorp/raft"

	"github.com/shortify/shortify/controlplane/clustertls"
	"github.com/shortify/shortify/controlplane/fsm"
	"github.com/shortify/shortify/internal/apikey"
	"github.com/shortify/shortify/internal/tracing"
	"github.com/shortify/shortify/internal/workspace"
)

// Forwarding.
//
// Any node accepts every call. A write that needs the leader runs there:
// a follower looks up the leader's API address (its internal listener) in
// the FSM's node registry and sends the call to it over https with mutual
// TLS (the node certificate proves membership) and the ForwardedHeader. A
// forwarded call is never forwarded again: a node that gets one and does
// not lead (any more) answers 503 and the sender asks again, once it knows
// the new leader.
//
//	POST /api/v1/cluster/apply   {"type":5,"command":{"node":"n2","size":1000}}
//	                          -> {"result":{"start":0,"end":1000}}
//	POST /api/v1/cluster/join    JoinRequest -> Info
//	DELETE /api/v1/cluster/nodes/{id}        -> 204
//
// Membership is authority over what members do for themselves only
// (memberCommands). An admin write (a key, the blocklist, the partition
// policy, the custom domain registry) carries the raw API key of the caller it is made for, which the
// leader verifies itself against its own key ring (see WithCallerKey).
//
// The api package serves these routes on the internal listener only; the
// wire format lives here, beside the client.

// Paths and headers of the node-to-node protocol.
const (
	// ClusterPath is GET: this node's view of the cluster (Info).
	ClusterPath = "/api/v1/cluster"
	// JoinPath is POST: add a node (JoinRequest).
	JoinPath = "/api/v1/cluster/join"
	// NodesPath followed by a node ID is DELETE: remove that node.
	NodesPath = "/api/v1/cluster/nodes/"
	// ApplyPath is POST: apply a forwarded FSM command on the leader.
	ApplyPath = "/api/v1/cluster/apply"

	// ForwardedHeader marks a call one node forwarded to another, taking it
	// for the leader; the receiver never forwards it again.
	ForwardedHeader = "X-Shortify-Forwarded"
)

// Timeouts and retries of forwarded calls.
const (
	// attemptTimeout bounds one HTTP call to the leader.
	attemptTimeout = 5 * time.Second
	// retryMin and retryMax bound the wait between attempts while the
	// leader cannot be reached; while there is no leader at all the node
	// checks again every pollInterval (a local read), so that it uses a
	// new leader as soon as it learns of it.
	retryMin = 10 * time.Millisecond
	retryMax = 100 * time.Millisecond
	// maxResponseBytes bounds what is read of another node's answer.
	maxResponseBytes = 1 << 20
)

// applyRequest is the body of POST ApplyPath.
type applyRequest struct {
	// Type is the command's type byte.
	Type fsm.CommandType `json:"type"`
	// Command is the command's JSON payload.
	Command json.RawMessage `json:"command"`
	// CallerKey is the raw API key of the caller an admin command is made
	// for; the leader checks it against its own key ring.
	CallerKey string `json:"caller_key,omitempty"`
}

// forwardable are the commands a follower may have the leader apply: true
// for what a member does for itself, which membership alone allows; false
// for admin writes, which need an admin caller's key (adminAllowed). The
// cluster key is only ever proposed by a leader.
var forwardable = map[fsm.CommandType]bool{
	fsm.TypeAcquireLease:       true,
	fsm.TypeRenewLease:         true,
	fsm.TypeReleaseLease:       true,
	fsm.TypeAllocateBlock:      true,
	fsm.TypeRegisterNode:       true,
	fsm.TypeDeregisterNode:     true,
	fsm.TypeRecordPartitions:   true,
	fsm.TypeAddKey:             false,
	fsm.TypeRevokeKey:          false,
	fsm.TypeSetDomainBlocked:   false,
	fsm.TypeSetPartitionPolicy: false,
	// The workspace registry is instance administration; a workspace's
	// admin may also forward its own keys and domains (workspaceAdminMay).
	fsm.TypeCreateWorkspace:   false,
	fsm.TypeUpdateWorkspace:   false,
	fsm.TypeDeleteWorkspace:   false,
	fsm.TypeAddDomain:         false,
	fsm.TypeVerifyDomain:      false,
	fsm.TypeSetDomainSettings: false,
	fsm.TypeDeleteDomain:      false,
}

// memberMay reports whether membership alone allows c: the member
// commands, and the seeds a starting node proposes for the cluster it
// finds empty (the first admin key, the first partition policy), which
// the FSM applies only while there is none.
func memberMay(c fsm.Command) bool {
	switch c := c.(type) {
	case fsm.AddKey:
		return c.OnlyIfNone
	case *fsm.AddKey:
		return c.OnlyIfNone
	case fsm.SetPartitionPolicy:
		return c.OnlyIfNone
	case *fsm.SetPartitionPolicy:
		return c.OnlyIfNone
	}
	return forwardable[c.Type()]
}

// callerKey is the context key of WithCallerKey.
type callerKey struct{}

// WithCallerKey returns ctx carrying the raw API key of the caller that a
// write is made for. The API puts the key of every authenticated request
// there; when the write is an admin command that a follower forwards, the
// key goes along, and the leader applies it only if the key is a valid
// admin key in its own key ring.
func WithCallerKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, callerKey{}, key)
}

// callerKeyFrom returns the key WithCallerKey put in ctx.
func callerKeyFrom(ctx context.Context) string {
	k, _ := ctx.Value(callerKey{}).(string)
	return k
}

// adminAllowed checks that key is a valid, unrevoked admin key of this
// node's key ring (its hash compared in constant time) that may have c
// applied: an instance admin any admin command, a workspace's admin only
// what workspaceAdminMay allows, checked here against this node's own
// state, never on the follower's word.
func (n *Node) adminAllowed(key string, c fsm.Command) error {
	if key == "" {
		return fmt.Errorf("%w: an admin command needs the key of the admin it is made for, and none came with it", ErrForbidden)
	}
	id, err := apikey.Parse(key)
	if err != nil {
		return fmt.Errorf("%w: the caller's key is malformed", ErrForbidden)
	}
	e, ok := n.fsm.APIKey(id)
	var hash [32]byte
	copy(hash[:], e.Hash)
	if !ok || e.Revoked() || !apikey.Matches(key, hash) {
		return fmt.Errorf("%w: the caller's key is unknown, revoked or wrong", ErrForbidden)
	}
	if !apikey.Role(e.Role).Allows(apikey.Admin) {
		return fmt.Errorf("%w: key %s has role %s, the command needs admin", ErrForbidden, e.ID, e.Role)
	}
	if e.InstanceAdmin() {
		return nil
	}
	if n.workspaceAdminMay(e.Workspace, c) {
		return nil
	}
	return fmt.Errorf("%w: key %s is an admin of workspace %d only, and %s is not that workspace's own key or domain command", ErrForbidden, e.ID, e.Workspace, c.Type())
}

// keyWorkspace is the workspace a key acts in, as the FSM reads a key
// entry: no workspace is the default one for a viewer or creator key (the
// form from before workspaces), none at all (0) for an instance admin.
func keyWorkspace(k fsm.KeyEntry) int64 {
	if k.Workspace == 0 && k.Role != string(apikey.Admin) {
		return workspace.DefaultID
	}
	return k.Workspace
}

// workspaceAdminMay reports whether an admin of workspace ws may have c
// applied: adding a key of ws (never an instance admin), revoking a key
// that ws holds, and the domain commands naming ws.
func (n *Node) workspaceAdminMay(ws int64, c fsm.Command) bool {
	if ws <= 0 {
		return false
	}
	// Decode gives pointers; a command built in this process may be a
	// value.
	switch v := c.(type) {
	case fsm.AddKey:
		return n.workspaceAdminMay(ws, &v)
	case fsm.RevokeKey:
		return n.workspaceAdminMay(ws, &v)
	case fsm.AddDomain:
		return n.workspaceAdminMay(ws, &v)
	case fsm.VerifyDomain:
		return n.workspaceAdminMay(ws, &v)
	case fsm.SetDomainSettings:
		return n.workspaceAdminMay(ws, &v)
	case fsm.DeleteDomain:
		return n.workspaceAdminMay(ws, &v)
	}
	switch c := c.(type) {
	case *fsm.AddKey:
		return !c.OnlyIfNone && !c.Key.InstanceAdmin() && keyWorkspace(c.Key) == ws
	case *fsm.RevokeKey:
		k, ok := n.fsm.APIKey(c.ID)
		return ok && keyWorkspace(k) == ws
	case *fsm.AddDomain:
		return c.Workspace == ws
	case *fsm.VerifyDomain:
		return c.Workspace == ws
	case *fsm.SetDomainSettings:
		return c.Workspace == ws
	case *fsm.DeleteDomain:
		return c.Workspace == ws
	}
	return false
}

// retryable reports whether a failed call to the leader may succeed later
// or elsewhere: no leader yet, a leader change, a leader that cannot be
// reached.
func retryable(err error) bool {
	return errors.Is(err, ErrNotLeader) || errors.Is(err, ErrNoLeader) ||
		errors.Is(err, ErrLeaderUnreachable) || errors.Is(err, raft.ErrEnqueueTimeout)
}

// leaderDo runs local when this node leads and, when it does not and
// forward is true, remote against the leader's registry entry. It retries
// both while the failure is retryable, until ctx ends (applyTimeout when
// ctx has no deadline). Without forward, a follower gets ErrNotLeader.
func (n *Node) leaderDo(ctx context.Context, what string, forward bool,
	local func(context.Context) error, remote func(context.Context, fsm.NodeInfo) error) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, applyTimeout)
		defer cancel()
	}
	backoff := retryMin
	var t *time.Timer
	defer func() {
		if t != nil {
			t.Stop()
		}
	}()
	for {
		var err error
		switch n.raft.State() {
		case raft.Leader:
			err = local(ctx)
		case raft.Shutdown:
			return fmt.Errorf("%s: %w", what, raft.ErrRaftShutdown)
		default:
			if !forward {
				return fmt.Errorf("%s: %w", what, n.notLeader())
			}
			var leader fsm.NodeInfo
			if leader, err = n.leaderInfo(); err == nil {
				err = remote(ctx, leader)
			}
		}
		if err == nil {
			return nil
		}
		if !retryable(err) {
			return fmt.Errorf("%s: %w", what, err)
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w: %w", what, context.Cause(ctx), err)
		}
		wait := pollInterval
		if !errors.Is(err, ErrNoLeader) {
			wait, backoff = backoff, min(backoff*2, retryMax)
		}
		if t == nil {
			t = time.NewTimer(wait)
		} else {
			t.Reset(wait)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w: %w", what, context.Cause(ctx), err)
		case <-t.C:
		}
	}
}

// notLeader is ErrNotLeader, naming the leader when this node knows it.
func (n *Node) notLeader() error {
	if _, id := n.raft.LeaderWithID(); id != "" {
		if info, ok := n.fsm.Node(string(id)); ok && info.APIAddr != "" {
			return fmt.Errorf("%w: the leader is %s at %s", ErrNotLeader, id, info.APIAddr)
		}
		return fmt.Errorf("%w: the leader is %s", ErrNotLeader, id)
	}
	return ErrNotLeader
}

// leaderInfo returns the registry entry of the leader this node knows of.
func (n *Node) leaderInfo() (fsm.NodeInfo, error) {
	_, id := n.raft.LeaderWithID()
	if id == "" {
		return fsm.NodeInfo{}, ErrNoLeader
	}
	info, ok := n.fsm.Node(string(id))
	switch {
	case !ok:
		// It registers itself as it starts; this node may not have
		// applied that entry yet.
		return info, fmt.Errorf("%w: leader %s is not in the node registry yet", ErrLeaderUnreachable, id)
	case info.APIAddr == "":
		return info, fmt.Errorf("%w: leader %s has no API address; set one (api_addr) on every member", ErrNoLeaderAPI, id)
	}
	return info, nil
}

// forwardApply has the leader apply an encoded command.
func (n *Node) forwardApply(ctx context.Context, leader fsm.NodeInfo, t fsm.CommandType, data []byte) (any, error) {
	req := applyRequest{Type: t, Command: data[1:]}
	if !forwardable[t] {
		// An admin write: the leader applies it only for an admin.
		req.CallerKey = callerKeyFrom(ctx)
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("encode forwarded %s: %w", t, err)
	}
	out, err := n.call(ctx, leader, http.MethodPost, ApplyPath, body, true)
	if err != nil {
		return nil, err
	}
	resp, err := fsm.DecodeResponse(t, out)
	if err != nil {
		return nil, fmt.Errorf("leader %s answered: %w", leader.ID, err)
	}
	return resp, nil
}

// ApplyForwarded applies a command another node forwarded (the body of POST
// ApplyPath) and returns the FSM's response in its wire form. The caller
// must have proven membership (the internal listener's mutual TLS does).
// The command is decoded as fsm.Decode does and must be one followers
// forward: a command that would halt the FSM (one from a newer release)
// never reaches the log. An admin command is applied only with the key of
// an admin of this node's key ring that may have it applied
// (adminAllowed). It returns an error wrapping ErrBadCommand for a bad
// body, ErrForbidden for an admin command without a valid admin key that
// may make it, ErrNotLeader when this node does not lead.
func (n *Node) ApplyForwarded(ctx context.Context, body []byte) ([]byte, error) {
	var req applyRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadCommand, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: more than one JSON value", ErrBadCommand)
	}
	if _, ok := forwardable[req.Type]; !ok {
		return nil, fmt.Errorf("%w: %s is not a command followers forward", ErrBadCommand, req.Type)
	}
	c, err := fsm.Decode(append([]byte{byte(req.Type)}, req.Command...))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadCommand, err)
	}
	if !memberMay(c) {
		if err := n.adminAllowed(req.CallerKey, c); err != nil {
			n.log.Warn("refused a forwarded admin command", "command", req.Type.String(), "error", err)
			return nil, fmt.Errorf("apply forwarded %s: %w", req.Type, err)
		}
	}
	data, err := fsm.Encode(c) // the canonical form goes into the log
	if err != nil {
		return nil, err
	}
	if n.raft.State() != raft.Leader {
		return nil, fmt.Errorf("apply forwarded %s: %w", req.Type, ErrNotLeader)
	}
	resp, err := n.applyLocal(ctx, data)
	if err != nil {
		return nil, fmt.Errorf("apply forwarded %s: %w", req.Type, err)
	}
	return fsm.EncodeResponse(resp)
}

// RemoteError is a refusal from another member's API (a problem document)
// that is not worth retrying. It unwraps to the sentinel of its status:
// ErrInvalidRequest (400), ErrForbidden (401, 403), ErrUnknownMember
// (404), ErrConflict (409), or none.
type RemoteError struct {
	// Node is the member that answered.
	Node string
	// Status is the HTTP status it answered.
	Status int
	// Detail is its explanation.
	Detail string
	// Field is the request field at fault, when it named one.
	Field string
}

// Error implements error.
func (e *RemoteError) Error() string {
	return fmt.Sprintf("node %s answered %d: %s", e.Node, e.Status, e.Detail)
}

// Unwrap returns the sentinel matching the status.
func (e *RemoteError) Unwrap() error {
	switch e.Status {
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		return ErrInvalidRequest
	case http.StatusUnauthorized, http.StatusForbidden:
		return ErrForbidden
	case http.StatusNotFound:
		return ErrUnknownMember
	case http.StatusConflict:
		return ErrConflict
	}
	return nil
}

// call sends one request to a member's API and returns the body of a 2xx
// answer. forwarded marks it as a call for the leader that the receiver
// must not forward again. Network failures, timeouts and 502/503/504
// answers wrap ErrLeaderUnreachable (retryable); other answers are
// *RemoteError.
func (n *Node) call(ctx context.Context, to fsm.NodeInfo, method, path string, body []byte, forwarded bool) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, to.APIAddr+path, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("request to node %s: %w", to.ID, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	tracing.Inject(ctx, req.Header) // the leader's raft.apply joins this trace (tracing.go)
	if forwarded {
		req.Header.Set(ForwardedHeader, n.cfg.NodeID)
	}
	resp, err := n.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %s %s: %w", ErrLeaderUnreachable, method, to.APIAddr+path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, fmt.Errorf("%w: read the answer of node %s: %w", ErrLeaderUnreachable, to.ID, err)
	}
	if resp.StatusCode/100 == 2 {
		return out, nil
	}
	detail := problemDetail(resp.Header.Get("Content-Type"), out)
	switch resp.StatusCode {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return nil, fmt.Errorf("%w: node %s answered %d: %s", ErrLeaderUnreachable, to.ID, resp.StatusCode, detail.Detail)
	}
	return nil, &RemoteError{Node: to.ID, Status: resp.StatusCode, Detail: detail.Detail, Field: detail.Field}
}

// problem is the part of an RFC 9457 problem document that is relayed.
type problem struct {
	Detail string `json:"detail"`
	Field  string `json:"field"`
}

// problemDetail reads a problem document, or makes one of a short body.
func problemDetail(contentType string, body []byte) problem {
	var p problem
	if mt, _, _ := mime.ParseMediaType(contentType); mt == "application/problem+json" || mt == "application/json" {
		_ = json.Unmarshal(body, &p)
	}
	if p.Detail == "" {
		p.Detail = string(body[:min(len(body), 200)])
	}
	return p
}

// newHTTPClient is the default client for calls to other members'
// internal listeners: it trusts only the cluster CA and presents the node
// certificate, dialling through gate when set. Without tc (a node without
// cluster TLS, which has no members to call) it refuses every call.
func newHTTPClient(tc *clustertls.Config, gate *netGate) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil // members talk directly, never through a proxy
	t.MaxIdleConnsPerHost = 8
	if tc != nil {
		t.TLSClientConfig = tc.Client("")
	} else {
		t.DialContext = func(context.Context, string, string) (net.Conn, error) {
			return nil, errors.New("this node has no cluster TLS, so it calls no other member")
		}
	}
	if gate != nil && tc != nil {
		t.DialContext = gate.DialContext
	}
	return &http.Client{Transport: t}
}
