package client

import "time"

// Partition is one partition of the statistics database.
type Partition struct {
	Table         string                   `json:"table"`
	Name          string                   `json:"name"`
	Strategy      string                   `json:"strategy"`
	Bounds        string                   `json:"bounds"`
	From          *time.Time               `json:"from,omitempty"`
	To            *time.Time               `json:"to,omitempty"`
	Modulus       int                      `json:"modulus,omitempty"`
	Remainder     int                      `json:"remainder,omitempty"`
	EstimatedRows *int64                   `json:"estimated_rows"`
	SizeBytes     int64                    `json:"size_bytes"`
	Managed       bool                     `json:"managed"`
	PastRetention bool                     `json:"past_retention"`
	InDatabase    bool                     `json:"in_database"`
	Catalogue     *PartitionCatalogueEntry `json:"catalogue,omitempty"`
	Drift         string                   `json:"drift,omitempty"`
}

// PartitionCatalogueEntry is what the replicated catalogue says of a
// partition.
type PartitionCatalogueEntry struct {
	State     string    `json:"state"`
	ChangedAt time.Time `json:"changed_at"`
}

// PartitionList lists the partitions; Drift counts those whose database
// and catalogue disagree.
type PartitionList struct {
	Partitions []Partition `json:"partitions"`
	Drift      int         `json:"drift"`
}

// CreatedPartitions are the partitions a create made.
type CreatedPartitions struct {
	Created []Partition `json:"created"`
}

// CreatePartitionsRequest makes the partitions of the next Months
// (Table "" = every partitioned table).
type CreatePartitionsRequest struct {
	Months int    `json:"months"`
	Table  string `json:"table,omitempty"`
}

// PartitionPolicy is how far ahead partitions are made and how long
// they are kept.
type PartitionPolicy struct {
	MonthsAhead   int  `json:"months_ahead"`
	RetentionDays int  `json:"retention_days"`
	Detach        bool `json:"detach,omitempty"`
}

// ClusterInfo is the answering node's view of the Raft cluster.
type ClusterInfo struct {
	NodeID        string `json:"node_id"`
	RaftState     string `json:"raft_state"`
	LeaderID      string `json:"leader_id"`
	LeaderAPIAddr string `json:"leader_api_addr,omitempty"`
	Term          uint64 `json:"term"`
	LastLogIndex  uint64 `json:"last_log_index"`
	CommitIndex   uint64 `json:"commit_index"`
	AppliedIndex  uint64 `json:"applied_index"`
	// CommandVersion is the Raft command language the answering node
	// applies; 0 from a release that does not report it.
	CommandVersion int             `json:"command_version,omitempty"`
	WorkerID       int             `json:"worker_id"`
	LeaseExpires   *time.Time      `json:"lease_expires,omitempty"`
	Nodes          []ClusterMember `json:"nodes"`
}

// ClusterMember is one node of the Raft configuration.
type ClusterMember struct {
	ID        string `json:"id"`
	RaftAddr  string `json:"raft_addr"`
	APIAddr   string `json:"api_addr,omitempty"`
	Suffrage  string `json:"suffrage"`
	Leader    bool   `json:"leader"`
	WorkerIDs []int  `json:"worker_ids"`
}

// JoinRequest adds a node to the cluster.
type JoinRequest struct {
	NodeID   string `json:"node_id"`
	RaftAddr string `json:"raft_addr"`
	APIAddr  string `json:"api_addr"`
}

// HealthStatus is the answer of the liveness and readiness probes.
type HealthStatus struct {
	Status string `json:"status"`
}

// FlaggedLink is a link waiting for moderator review.
type FlaggedLink struct {
	Code   string    `json:"code"`
	Domain string    `json:"domain,omitempty"`
	Reason string    `json:"reason"`
	Source string    `json:"source"`
	At     time.Time `json:"at"`
}

// ReviewPage is one page of the review queue.
type ReviewPage struct {
	Links      []FlaggedLink `json:"links"`
	NextCursor string        `json:"next_cursor,omitempty"`
}

// AuditEntry is one recorded write.
type AuditEntry struct {
	ID       string    `json:"id"`
	At       time.Time `json:"at"`
	KeyID    string    `json:"key_id"`
	Action   string    `json:"action"`
	Target   string    `json:"target,omitempty"`
	ClientIP string    `json:"client_ip,omitempty"`
	Status   int       `json:"status"`
}

// AuditPage is one page of the audit log.
type AuditPage struct {
	Entries    []AuditEntry `json:"entries"`
	NextCursor string       `json:"next_cursor,omitempty"`
}

// AuditQuery filters the audit log (zero fields: no filter).
type AuditQuery struct {
	Key, Action, Target string
	// Outcome is success, client_error or server_error.
	Outcome      string
	Status       int
	Since, Until time.Time
	Cursor       string
	Limit        int
}

// ReportRequest is an abuse report of a short URL.
type ReportRequest struct {
	URL     string `json:"url"`
	Reason  string `json:"reason"`
	Details string `json:"details,omitempty"`
	Contact string `json:"contact,omitempty"`
}

// ReportAccepted acknowledges a report.
type ReportAccepted struct {
	ID    string `json:"id"`
	State string `json:"state"`
}

// ReportInfo is a report as moderators see it.
type ReportInfo struct {
	ID         string     `json:"id"`
	CreatedAt  time.Time  `json:"created_at"`
	Domain     string     `json:"domain,omitempty"`
	Code       string     `json:"code"`
	URL        string     `json:"url"`
	Reason     string     `json:"reason"`
	Details    string     `json:"details,omitempty"`
	Contact    string     `json:"contact,omitempty"`
	ClientIP   string     `json:"client_ip,omitempty"`
	State      string     `json:"state"`
	ResolvedAt *time.Time `json:"resolved_at,omitempty"`
	ResolvedBy string     `json:"resolved_by,omitempty"`
	Resolution string     `json:"resolution,omitempty"`
	Note       string     `json:"note,omitempty"`
}

// ReportPage is one page of reports.
type ReportPage struct {
	Reports    []ReportInfo `json:"reports"`
	NextCursor string       `json:"next_cursor,omitempty"`
}

// ResolveRequest closes a report.
type ResolveRequest struct {
	Resolution string `json:"resolution"`
	Note       string `json:"note,omitempty"`
}

// TakedownRequest takes a link down, saying why.
type TakedownRequest struct {
	Reason string `json:"reason"`
}

// Counts are click and visitor totals.
type Counts struct {
	Clicks        int64 `json:"clicks"`
	Humans        int64 `json:"humans"`
	Bots          int64 `json:"bots"`
	Visitors      int64 `json:"visitors"`
	HumanVisitors int64 `json:"human_visitors"`
	BotVisitors   int64 `json:"bot_visitors"`
}

// Point is one bucket of a series.
type Point struct {
	Counts
	Bucket time.Time `json:"bucket"`
}

// Series is a time series with its totals.
type Series struct {
	From        time.Time `json:"from"`
	To          time.Time `json:"to"`
	Granularity string    `json:"granularity"`
	Totals      Counts    `json:"totals"`
	Series      []Point   `json:"series"`
}

// LinkStats are one link's statistics.
type LinkStats struct {
	Series
	Code   string `json:"code"`
	LinkID string `json:"link_id"`
	Domain string `json:"domain,omitempty"`
}

// TopLink is a link in a ranking.
type TopLink struct {
	Code   string `json:"code"`
	LinkID string `json:"link_id"`
	Clicks int64  `json:"clicks"`
	Humans int64  `json:"humans"`
	Bots   int64  `json:"bots"`
}

// Overview is the statistics of a workspace (or the instance).
type Overview struct {
	Series
	Traffic  string    `json:"traffic"`
	TopLinks []TopLink `json:"top_links"`
}

// TopItem is one value of a dimension in a ranking.
type TopItem struct {
	Value  string `json:"value"`
	Clicks int64  `json:"clicks"`
	Humans int64  `json:"humans"`
	Bots   int64  `json:"bots"`
}

// Top ranks the values of a dimension.
type Top struct {
	Code        string    `json:"code,omitempty"`
	LinkID      string    `json:"link_id,omitempty"`
	Dimension   string    `json:"dimension"`
	From        time.Time `json:"from"`
	To          time.Time `json:"to"`
	Granularity string    `json:"granularity"`
	Traffic     string    `json:"traffic"`
	Items       []TopItem `json:"items"`
	Domain      string    `json:"domain,omitempty"`
}

// StatsWorkspace names a workspace in the statistics API.
type StatsWorkspace struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// WorkspaceView is what the caller's key may read.
type WorkspaceView struct {
	Key           string           `json:"key"`
	Role          string           `json:"role"`
	InstanceAdmin bool             `json:"instance_admin"`
	Workspace     *StatsWorkspace  `json:"workspace,omitempty"`
	Workspaces    []StatsWorkspace `json:"workspaces,omitempty"`
}
