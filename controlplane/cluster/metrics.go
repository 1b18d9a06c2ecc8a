package cluster

import (
	"strings"
	"time"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
)

// A Node is a prometheus.Collector. The counters and the histogram live
// as long as the node, which outlives Caddy config reloads, so they never
// reset on a reload; the Raft gauges are read from raft when scraped.
//
//	shortify_cp_raft_leader                        1 while this node leads, else 0
//	shortify_cp_raft_state{state}                  1 for the node's state (leader, follower, candidate, shutdown), 0 for the others
//	shortify_cp_raft_term                          current term
//	shortify_cp_raft_last_index                    last index in the log
//	shortify_cp_raft_commit_index                  last index known committed
//	shortify_cp_raft_applied_index                 last index applied to the FSM
//	shortify_cp_raft_voters, _nonvoters            members of the latest configuration, by suffrage
//	shortify_cp_raft_commit_duration_seconds       proposals applied on this node as leader: Apply until committed and applied
//	shortify_cp_grants_total{kind}                 grants this node received: worker_id (leases acquired), sequence_block
//	shortify_cp_grant_errors_total{kind}           attempts at them that failed

// Kinds of grant (the kind label).
const (
	grantWorkerID      = "worker_id"
	grantSequenceBlock = "sequence_block"
)

// raftStates are the values of the state label.
var raftStates = []raft.RaftState{raft.Follower, raft.Candidate, raft.Leader, raft.Shutdown}

// commitBuckets run from a local disk sync (about a millisecond) to the
// apply timeout.
var commitBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// Descriptions of the gauges read at scrape time.
var (
	descLeader       = cpDesc("raft_leader", "1 while this node is the Raft leader, else 0.")
	descState        = cpDesc("raft_state", "1 for this node's Raft state (leader, follower, candidate, shutdown), 0 for the others.", "state")
	descTerm         = cpDesc("raft_term", "The node's current Raft term.")
	descLastIndex    = cpDesc("raft_last_index", "The last index in the node's Raft log.")
	descCommitIndex  = cpDesc("raft_commit_index", "The last Raft index the node knows to be committed.")
	descAppliedIndex = cpDesc("raft_applied_index", "The last Raft index applied to the node's FSM.")
	descVoters       = cpDesc("raft_voters", "Voters in the latest Raft configuration the node knows.")
	descNonvoters    = cpDesc("raft_nonvoters", "Non-voters (joining nodes not yet promoted) in the latest Raft configuration the node knows.")
)

func cpDesc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName("shortify", "cp", name), help, labels, nil)
}

// nodeMetrics are the node's own counters and histogram.
type nodeMetrics struct {
	commit      prometheus.Histogram
	grants      *prometheus.CounterVec
	grantErrors *prometheus.CounterVec
}

func newNodeMetrics() *nodeMetrics {
	m := &nodeMetrics{
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: "shortify", Subsystem: "cp", Name: "raft_commit_duration_seconds",
			Help:    "Time from a Raft Apply on this node as leader until the entry was committed and applied.",
			Buckets: commitBuckets,
		}),
		grants: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "shortify", Subsystem: "cp", Name: "grants_total",
			Help: "Grants this node received through Raft: worker_id (worker-ID leases acquired) and sequence_block (code sequence blocks).",
		}, []string{"kind"}),
		grantErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "shortify", Subsystem: "cp", Name: "grant_errors_total",
			Help: "Attempts at a worker_id lease or a sequence_block that failed (and are retried).",
		}, []string{"kind"}),
	}
	for _, k := range []string{grantWorkerID, grantSequenceBlock} {
		m.grants.WithLabelValues(k)
		m.grantErrors.WithLabelValues(k)
	}
	return m
}

// countGrant counts a grant of kind, or a failed attempt at one.
func (n *Node) countGrant(kind string, err error) {
	if err != nil {
		n.metrics.grantErrors.WithLabelValues(kind).Inc()
		return
	}
	n.metrics.grants.WithLabelValues(kind).Inc()
}

// observeCommit records how long a local Apply took, from start.
func (n *Node) observeCommit(start time.Time) {
	n.metrics.commit.Observe(time.Since(start).Seconds())
}

// Describe implements prometheus.Collector.
func (n *Node) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descLeader, descState, descTerm, descLastIndex,
		descCommitIndex, descAppliedIndex, descVoters, descNonvoters} {
		ch <- d
	}
	n.metrics.commit.Describe(ch)
	n.metrics.grants.Describe(ch)
	n.metrics.grantErrors.Describe(ch)
}

// Collect implements prometheus.Collector. It reads the Raft state as the
// node's Info does: the configuration through raft's main loop, the rest
// without blocking.
func (n *Node) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	state := n.raft.State()
	gauge(descLeader, bool01(state == raft.Leader))
	for _, s := range raftStates {
		gauge(descState, bool01(state == s), strings.ToLower(s.String()))
	}
	gauge(descTerm, float64(n.raft.CurrentTerm()))
	gauge(descLastIndex, float64(n.raft.LastIndex()))
	gauge(descCommitIndex, float64(n.raft.CommitIndex()))
	gauge(descAppliedIndex, float64(n.raft.AppliedIndex()))
	voters, nonvoters := 0, 0
	if f := n.raft.GetConfiguration(); f.Error() == nil {
		for _, s := range f.Configuration().Servers {
			if s.Suffrage == raft.Voter {
				voters++
			} else {
				nonvoters++
			}
		}
	}
	gauge(descVoters, float64(voters))
	gauge(descNonvoters, float64(nonvoters))
	n.metrics.commit.Collect(ch)
	n.metrics.grants.Collect(ch)
	n.metrics.grantErrors.Collect(ch)
}

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Interface guard.
var _ prometheus.Collector = (*Node)(nil)
