package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"time"

	"github.com/shortify/shortify/internal/problem"
	"github.com/shortify/shortify/stats/partitions"
)

// PartitionAdmin administers the partitions of the stats (and link)
// database; *partitions.Manager implements it.
type PartitionAdmin interface {
	List(ctx context.Context) ([]partitions.Partition, error)
	Create(ctx context.Context, table string, months int) ([]partitions.Partition, error)
	Drop(ctx context.Context, name string) (partitions.Partition, error)
}

// PartitionPolicy is the replicated partition policy, the body of GET and
// PUT /api/v1/admin/partitions/policy.
type PartitionPolicy struct {
	// MonthsAhead is how many months after the current one the leader
	// keeps created, 1..24.
	MonthsAhead int `json:"months_ahead"`
	// RetentionDays is how long stats data is kept, 1..36500 days.
	RetentionDays int `json:"retention_days"`
	// Detach makes the retention detach expired partitions, not drop them.
	Detach bool `json:"detach"`
}

// PartitionPolicyStore is the replicated partition policy (the Raft
// FSM's).
type PartitionPolicyStore interface {
	// PartitionPolicy returns the policy; false when none is set yet.
	PartitionPolicy() (PartitionPolicy, bool)
	// SetPartitionPolicy replaces the policy through Raft.
	SetPartitionPolicy(ctx context.Context, p PartitionPolicy) error
}

// MaxPolicyRetentionDays bounds PartitionPolicy.RetentionDays, as the FSM
// does.
const MaxPolicyRetentionDays = 36500

// partitionPolicyRequest is the strict form of a PUT body: every number
// must be there.
type partitionPolicyRequest struct {
	MonthsAhead   *int  `json:"months_ahead"`
	RetentionDays *int  `json:"retention_days"`
	Detach        *bool `json:"detach"`
}

// CreatePartitionsRequest is the body of POST /api/v1/admin/partitions.
type CreatePartitionsRequest struct {
	// Months is how many months after the current one to create
	// (required, 1..24); the current month is always included.
	Months *int `json:"months"`
	// Table limits the creation to one stats table (optional: all).
	Table string `json:"table,omitempty"`
}

// Partition is a partition as the API shows it.
type Partition struct {
	Table    string `json:"table"`
	Name     string `json:"name"`
	Strategy string `json:"strategy"`
	// Bounds is PostgreSQL's text of the partition bounds.
	Bounds string `json:"bounds"`
	// From and To bound a time range, [from, to).
	From time.Time `json:"from,omitzero"`
	To   time.Time `json:"to,omitzero"`
	// Modulus and Remainder are a hash partition's bounds.
	Modulus   *int `json:"modulus,omitempty"`
	Remainder *int `json:"remainder,omitempty"`
	// EstimatedRows is null until PostgreSQL has analysed the partition.
	EstimatedRows *int64 `json:"estimated_rows"`
	SizeBytes     int64  `json:"size_bytes"`
	// Managed partitions are kept and expired by the leader.
	Managed bool `json:"managed"`
	// PastRetention partitions may be dropped.
	PastRetention bool `json:"past_retention"`
	// InDatabase is false for a partition shown only because the
	// replicated catalogue holds it (dropped, detached, or drift).
	InDatabase bool `json:"in_database"`
	// Catalogue is the partition's entry in the replicated catalogue;
	// absent when it has none.
	Catalogue *PartitionCatalogueEntry `json:"catalogue,omitempty"`
	// Drift, when set, says how the database and the catalogue disagree:
	// missing_from_database or missing_from_catalogue.
	Drift string `json:"drift,omitempty"`
}

// PartitionCatalogueEntry is a partition's entry in the replicated
// partition catalogue.
type PartitionCatalogueEntry struct {
	// State is what the cluster last did to it: created, detached or
	// dropped.
	State string `json:"state"`
	// ChangedAt is when that was (the proposing node's clock).
	ChangedAt time.Time `json:"changed_at"`
}

// PartitionList is the body of GET /api/v1/admin/partitions.
type PartitionList struct {
	Partitions []Partition `json:"partitions"`
	// Drift counts the partitions whose Drift is set.
	Drift int `json:"drift"`
}

// CreatedPartitions is the answer to POST /api/v1/admin/partitions.
type CreatedPartitions struct {
	// Created are the partitions made by this request; empty when all
	// existed.
	Created []Partition `json:"created"`
}

// partitionNameRE accepts a PostgreSQL table name as the API may name it.
var partitionNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// partitionRoutes registers the partition administration. Every route here
// is an admin route: the admin-role check wraps this block when API keys
// arrive.
func (h *Handler) partitionRoutes() {
	h.handle("GET /api/v1/admin/partitions", admin, h.listPartitions)
	h.handle("POST /api/v1/admin/partitions", admin, h.createPartitions)
	h.handle("DELETE /api/v1/admin/partitions/{name}", admin, h.dropPartition)
	h.handle("GET /api/v1/admin/partitions/policy", admin, h.getPartitionPolicy)
	h.handle("PUT /api/v1/admin/partitions/policy", admin, h.setPartitionPolicy)
}

func (h *Handler) getPartitionPolicy(w http.ResponseWriter, r *http.Request) {
	if !h.havePartitionPolicy(w) {
		return
	}
	p, ok := h.deps.PartitionPolicy.PartitionPolicy()
	if !ok {
		problem.Write(w, http.StatusNotFound, "no partition policy is set yet; the leader applies the configured partition_* settings")
		return
	}
	writeJSON(w, http.StatusOK, p)
}

func (h *Handler) setPartitionPolicy(w http.ResponseWriter, r *http.Request) {
	if !h.havePartitionPolicy(w) {
		return
	}
	var req partitionPolicyRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	switch {
	case req.MonthsAhead == nil:
		problem.WriteField(w, http.StatusBadRequest, "months_ahead", "months_ahead is required: how many months after the current one to keep created")
		return
	case *req.MonthsAhead < 1 || *req.MonthsAhead > partitions.MaxMonthsAhead:
		problem.WriteField(w, http.StatusBadRequest, "months_ahead", fmt.Sprintf("months_ahead must be 1..%d, not %d", partitions.MaxMonthsAhead, *req.MonthsAhead))
		return
	case req.RetentionDays == nil:
		problem.WriteField(w, http.StatusBadRequest, "retention_days", "retention_days is required: how many days stats data is kept")
		return
	case *req.RetentionDays < 1 || *req.RetentionDays > MaxPolicyRetentionDays:
		problem.WriteField(w, http.StatusBadRequest, "retention_days", fmt.Sprintf("retention_days must be 1..%d, not %d", MaxPolicyRetentionDays, *req.RetentionDays))
		return
	}
	p := PartitionPolicy{MonthsAhead: *req.MonthsAhead, RetentionDays: *req.RetentionDays}
	if req.Detach != nil {
		p.Detach = *req.Detach
	}
	if err := h.deps.PartitionPolicy.SetPartitionPolicy(r.Context(), p); err != nil {
		h.unavailable(w, "change the partition policy", err)
		return
	}
	h.log.Info("partition policy changed", "months_ahead", p.MonthsAhead, "retention_days", p.RetentionDays, "detach", p.Detach)
	writeJSON(w, http.StatusOK, p)
}

func (h *Handler) havePartitionPolicy(w http.ResponseWriter) bool {
	return have(w, h.deps.PartitionPolicy != nil, "partition policy")
}

func (h *Handler) listPartitions(w http.ResponseWriter, r *http.Request) {
	if !h.partitionsAvailable(w) {
		return
	}
	ps, err := h.deps.Partitions.List(r.Context())
	if err != nil {
		h.partitionsFailed(w, "list partitions", err)
		return
	}
	list := PartitionList{Partitions: presentPartitions(ps)}
	for _, p := range list.Partitions {
		if p.Drift != "" {
			list.Drift++
		}
	}
	writeJSON(w, http.StatusOK, list)
}

func (h *Handler) createPartitions(w http.ResponseWriter, r *http.Request) {
	if !h.partitionsAvailable(w) {
		return
	}
	var req CreatePartitionsRequest
	if !decodeJSON(w, r, &req) {
		return
	}
	switch {
	case req.Months == nil:
		problem.WriteField(w, http.StatusBadRequest, "months", "months is required: how many months after the current one to create")
		return
	case *req.Months < 1 || *req.Months > partitions.MaxMonthsAhead:
		problem.WriteField(w, http.StatusBadRequest, "months", fmt.Sprintf("months must be 1..%d, not %d", partitions.MaxMonthsAhead, *req.Months))
		return
	}
	created, err := h.deps.Partitions.Create(r.Context(), req.Table, *req.Months)
	switch {
	case errors.Is(err, partitions.ErrUnknownTable):
		problem.WriteField(w, http.StatusBadRequest, "table", fmt.Sprintf("table %q is not a partitioned stats table", req.Table))
		return
	case errors.Is(err, partitions.ErrUnpartitioned):
		problem.Write(w, http.StatusConflict, "the stats database is SQLite, which has no partitions to create")
		return
	case err != nil && len(created) == 0:
		h.partitionsFailed(w, "create partitions", err)
		return
	case err != nil:
		// Some were created before the failure: say which, and that the
		// rest failed (a retry completes them).
		h.partitionsFailed(w, fmt.Sprintf("create every partition (%d were created first)", len(created)), err)
		return
	}
	status := http.StatusOK
	if len(created) > 0 {
		status = http.StatusCreated
		h.log.Info("partitions created on request", "count", len(created), "months", *req.Months, "table", req.Table)
	}
	writeJSON(w, status, CreatedPartitions{Created: presentPartitions(created)})
}

func (h *Handler) dropPartition(w http.ResponseWriter, r *http.Request) {
	if !h.partitionsAvailable(w) {
		return
	}
	name := r.PathValue("name")
	if !partitionNameRE.MatchString(name) {
		problem.WriteField(w, http.StatusBadRequest, "name", "a partition name is 1-63 characters of A-Z a-z 0-9 _, not starting with a digit")
		return
	}
	p, err := h.deps.Partitions.Drop(r.Context(), name)
	if err != nil {
		if refused, ok := errors.AsType[*partitions.RefusedError](err); ok {
			problem.Write(w, http.StatusConflict, fmt.Sprintf("partition %s is not dropped: %s", name, refused.Detail))
			return
		}
		if errors.Is(err, partitions.ErrNotFound) {
			problem.Write(w, http.StatusNotFound, fmt.Sprintf("no partition is called %q", name))
			return
		}
		h.partitionsFailed(w, "drop partition "+name, err)
		return
	}
	h.log.Info("partition dropped on request", "table", p.Table, "partition", p.Name)
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) partitionsAvailable(w http.ResponseWriter) bool {
	if h.deps.Partitions == nil {
		problem.Write(w, http.StatusServiceUnavailable, "partition administration is not available on this node")
		return false
	}
	return true
}

// partitionsFailed answers a stats-database failure without leaking its
// details.
func (h *Handler) partitionsFailed(w http.ResponseWriter, what string, err error) {
	if errors.Is(err, context.Canceled) {
		return // the client went away
	}
	h.log.Error(what+" failed", "err", err)
	w.Header().Set("Retry-After", "5")
	problem.Write(w, http.StatusServiceUnavailable, "could not "+what+": the stats database is unavailable or busy; retry shortly")
}

func presentPartitions(ps []partitions.Partition) []Partition {
	out := make([]Partition, 0, len(ps))
	for _, p := range ps {
		q := Partition{
			Table:         p.Table,
			Name:          p.Name,
			Strategy:      p.Strategy,
			Bounds:        p.Bounds,
			From:          p.From,
			To:            p.To,
			SizeBytes:     p.SizeBytes,
			Managed:       p.Managed,
			PastRetention: p.PastRetention,
			InDatabase:    p.InDatabase,
			Drift:         p.Drift,
		}
		if c := p.Catalogue; c != nil {
			q.Catalogue = &PartitionCatalogueEntry{State: c.State, ChangedAt: c.Changed}
		}
		if p.Strategy == partitions.StrategyHash {
			q.Modulus, q.Remainder = new(p.Modulus), new(p.Remainder)
		}
		if p.EstimatedRows >= 0 {
			q.EstimatedRows = new(p.EstimatedRows)
		}
		out = append(out, q)
	}
	return out
}
