package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/hashicorp/raft"

	"github.com/shortify/shortify/controlplane/cluster"
	"github.com/shortify/shortify/internal/problem"
)

// The cluster routes: the Raft membership and the node-to-node calls.
//
//	GET    /api/v1/cluster              this node's view: members, leader, term, indexes
//	POST   /api/v1/cluster/join         add a voter {node_id, raft_addr, api_addr}
//	DELETE /api/v1/cluster/nodes/{id}   remove a member
//	POST   /api/v1/cluster/apply        internal: a follower's FSM command for the leader
//
// Join, remove and apply run on the leader: a follower forwards them
// (cluster.Node does), so any node answers them.

// ClusterNode is the Raft node the cluster routes drive; *cluster.Node
// implements it.
type ClusterNode interface {
	// Info is the node's view of the cluster.
	Info() cluster.Info
	// Join adds a voter; forward false for a call forwarded already.
	Join(ctx context.Context, req cluster.JoinRequest, forward bool) (cluster.Info, error)
	// Remove removes a member; forward as for Join.
	Remove(ctx context.Context, id string, forward bool) error
	// ApplyForwarded applies a follower's command on the leader.
	ApplyForwarded(ctx context.Context, body []byte) ([]byte, error)
	// CheckSecret compares a presented cluster secret in constant time.
	CheckSecret(secret string) bool
}

// clusterChangeTimeout bounds a join or a removal, forwarding and the
// Raft configuration change included.
const clusterChangeTimeout = 30 * time.Second

// clusterApplyTimeout bounds applying a forwarded command.
const clusterApplyTimeout = 10 * time.Second

// clusterRoutes registers the cluster routes: reading needs a member's
// cluster secret or a viewer key;
// join and removal a member's cluster secret or an admin key; forwarded
// Raft commands the cluster secret.
func (h *Handler) clusterRoutes() {
	h.handle("GET /api/v1/cluster", memberOrViewer, h.withCluster(h.getCluster))
	h.handle("POST /api/v1/cluster/join", memberOrAdmin, h.withCluster(h.joinCluster))
	h.handle("DELETE /api/v1/cluster/nodes/{id}", memberOrAdmin, h.withCluster(h.removeClusterNode))
	h.handle("POST /api/v1/cluster/apply", member, h.withCluster(h.applyForwarded))
}

// withCluster answers 503 when the API has no Raft node behind it.
func (h *Handler) withCluster(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if h.deps.Cluster == nil {
			problem.Write(w, http.StatusServiceUnavailable, "this API has no control-plane node behind it")
			return
		}
		next(w, r)
	}
}

// forward reports whether the node may pass the call on to the leader:
// not when another node has forwarded it already.
func forwardAllowed(r *http.Request) bool { return r.Header.Get(cluster.ForwardedHeader) == "" }

func (h *Handler) getCluster(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, h.deps.Cluster.Info())
}

func (h *Handler) joinCluster(w http.ResponseWriter, r *http.Request) {
	var req cluster.JoinRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), clusterChangeTimeout)
	defer cancel()
	info, err := h.deps.Cluster.Join(ctx, req, forwardAllowed(r))
	if err != nil {
		h.clusterFailed(w, "add node "+req.NodeID, err)
		return
	}
	writeJSON(w, http.StatusOK, info)
}

func (h *Handler) removeClusterNode(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	ctx, cancel := context.WithTimeout(r.Context(), clusterChangeTimeout)
	defer cancel()
	if err := h.deps.Cluster.Remove(ctx, id, forwardAllowed(r)); err != nil {
		h.clusterFailed(w, "remove node "+id, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) applyForwarded(w http.ResponseWriter, r *http.Request) {
	if !clusterJSONContentType(w, r) {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			problem.Write(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than %d bytes", maxBodyBytes))
			return
		}
		problem.Write(w, http.StatusBadRequest, "could not read the body: "+err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), clusterApplyTimeout)
	defer cancel()
	out, err := h.deps.Cluster.ApplyForwarded(ctx, body)
	if err != nil {
		h.clusterFailed(w, "apply a forwarded command", err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(out)
}

// clusterFailed answers a failed cluster call with the status its error
// calls for.
func (h *Handler) clusterFailed(w http.ResponseWriter, what string, err error) {
	var field *cluster.FieldError
	var remote *cluster.RemoteError
	switch {
	case errors.As(err, &field):
		problem.WriteField(w, http.StatusBadRequest, field.Field, "cannot "+what+": "+field.Detail)
	case errors.Is(err, cluster.ErrForbidden):
		h.log.Error("the leader refused this node's cluster secret", "err", err)
		problem.Write(w, http.StatusBadGateway, "cannot "+what+": the leader refused this node's cluster secret; the members' cluster_secret settings differ")
	case errors.As(err, &remote) && remote.Status >= 400 && remote.Status < 500:
		// The leader's own refusal, relayed as it gave it.
		problem.WriteDetails(w, problem.Details{Status: remote.Status, Detail: remote.Detail, Field: remote.Field})
	case errors.Is(err, cluster.ErrInvalidRequest), errors.Is(err, cluster.ErrBadCommand):
		problem.Write(w, http.StatusBadRequest, "cannot "+what+": "+err.Error())
	case errors.Is(err, cluster.ErrUnknownMember):
		problem.Write(w, http.StatusNotFound, "cannot "+what+": "+err.Error())
	case errors.Is(err, cluster.ErrConflict):
		problem.Write(w, http.StatusConflict, "cannot "+what+": "+err.Error())
	case errors.Is(err, cluster.ErrNotLeader), errors.Is(err, cluster.ErrNoLeader),
		errors.Is(err, cluster.ErrLeaderUnreachable), errors.Is(err, cluster.ErrNoLeaderAPI),
		errors.Is(err, raft.ErrRaftShutdown), errors.Is(err, context.DeadlineExceeded):
		h.unavailable(w, what, err)
	case errors.Is(err, context.Canceled):
		// The client went away; nobody reads the answer.
	default:
		h.log.Error("cluster call failed", "what", what, "err", err)
		problem.Write(w, http.StatusInternalServerError, "cannot "+what+": "+err.Error())
	}
}

// jsonContentType answers 415 unless the body is declared as JSON (or not
// declared at all).
func clusterJSONContentType(w http.ResponseWriter, r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return true
	}
	if mt := strings.ToLower(strings.TrimSpace(strings.SplitN(ct, ";", 2)[0])); mt != "application/json" {
		problem.Write(w, http.StatusUnsupportedMediaType, "the body must be application/json, not "+mt)
		return false
	}
	return true
}
