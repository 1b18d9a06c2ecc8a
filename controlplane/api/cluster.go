package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/hashicorp/raft"

	"github.com/shortify/shortify/controlplane/cluster"
	"github.com/shortify/shortify/internal/problem"
	"github.com/shortify/shortify/internal/tracing"
)

// The cluster routes: the Raft membership and the node-to-node calls.
//
//	GET    /api/v1/cluster              this node's view: members, leader, term, indexes
//	POST   /api/v1/cluster/join         add a voter {node_id, raft_addr, api_addr}
//	DELETE /api/v1/cluster/nodes/{id}   remove a member
//	GET    /api/v1/cluster/backup       a backup of the FSM, taken on the leader (backup.go)
//	POST   /api/v1/cluster/apply        internal only: a follower's FSM command for the leader
//
// Join, remove and apply run on the leader: a follower forwards them
// (cluster.Node does), so any node answers them.
//
// The public handler (New) serves the first three to operators only, with
// a viewer key to read and an admin key to change the membership. Members
// call each other on the internal handler (NewInternal), which the node's
// internal listener serves behind mutual TLS from the cluster CA and the
// public listener never does: the only one with /api/v1/cluster/apply.

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
}

// clusterChangeTimeout bounds a join or a removal, forwarding and the
// Raft configuration change included.
const clusterChangeTimeout = 30 * time.Second

// clusterApplyTimeout bounds applying a forwarded command.
const clusterApplyTimeout = 10 * time.Second

// clusterRoutes registers the operators' cluster routes on the public
// handler: reading needs a viewer key, join and removal an admin key.
// Forwarded Raft commands are not among them: see NewInternal.
func (h *Handler) clusterRoutes() {
	h.handle("GET /api/v1/cluster", viewer, h.withCluster(h.getCluster))
	h.handle("POST /api/v1/cluster/join", admin, h.withCluster(h.joinCluster))
	h.handle("DELETE /api/v1/cluster/nodes/{id}", admin, h.withCluster(h.removeClusterNode))
	h.handle("GET /api/v1/cluster/backup", admin, h.withCluster(h.getBackup))
}

// NewInternal is the handler of the node's internal listener: the cluster
// routes as members call them (apply, join, remove, read), each for
// callers with a verified certificate of the cluster CA only. The server
// must require one (clustertls.Config.Server does); the handler checks
// again that the connection carries a verified chain, so that serving it
// on a plain listener by mistake opens nothing.
func NewInternal(node ClusterNode, logger *slog.Logger) http.Handler {
	if logger == nil {
		logger = slog.Default()
	}
	h := &Handler{deps: Deps{Cluster: node}, log: logger, mux: http.NewServeMux()}
	h.handle("GET /api/v1/cluster", member, h.withCluster(h.getCluster))
	h.handle("POST /api/v1/cluster/join", member, h.withCluster(h.joinCluster))
	h.handle("DELETE /api/v1/cluster/nodes/{id}", member, h.withCluster(h.removeClusterNode))
	h.handle("POST /api/v1/cluster/apply", member, h.withCluster(h.applyForwarded))
	h.handle("GET /api/v1/cluster/backup", member, h.withCluster(h.getBackup))
	return continueTrace(h)
}

// continueTrace makes the spans of a member's call (a forwarded
// proposal's raft.apply) join the trace its traceparent names, which the
// calling node's span put there (cluster's call): no Caddy tracing
// handler runs on the internal listener. Nothing while tracing is off.
func continueTrace(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ctx := tracing.Extract(r.Context(), r.Header); ctx != r.Context() {
			r = r.WithContext(ctx)
		}
		next.ServeHTTP(w, r)
	})
}

// withCluster answers 503 when the API has no Raft node behind it.
func (h *Handler) withCluster(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !have(w, h.deps.Cluster != nil, "control-plane node") {
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
	if h.outOfSpace(w, what, err) {
		return
	}
	var field *cluster.FieldError
	var remote *cluster.RemoteError
	switch {
	case errors.As(err, &field):
		problem.WriteField(w, http.StatusBadRequest, field.Field, "cannot "+what+": "+field.Detail)
	case errors.As(err, &remote) && remote.Status >= 400 && remote.Status < 500:
		// The leader's own refusal, relayed as it gave it.
		problem.WriteDetails(w, problem.Details{Status: remote.Status, Detail: remote.Detail, Field: remote.Field})
	case errors.Is(err, cluster.ErrForbidden):
		problem.Write(w, http.StatusForbidden, "cannot "+what+": "+err.Error())
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
