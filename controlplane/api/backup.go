package api

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/shortify/shortify/internal/backupfile"
)

// The backup route.
//
//	GET /api/v1/cluster/backup   a backup of the Raft FSM (an instance admin only)
//
// The file holds the cluster's code key, the API key ring (hashes), the
// leases, the sequence, the workspaces, the custom domains, the blocklist
// and the partition policy: an instance admin's key only, and the file
// must be kept like a secret. The leader takes it (a follower forwards
// the call); the headers repeat what the file's header says, so that a
// client can check the transfer without parsing it.

// Headers of a backup answer.
const (
	// BackupSHA256Header is the SHA-256 (hex) of the file's snapshot.
	BackupSHA256Header = "Shortify-Backup-Sha256"
	// BackupVersionHeader is the file format's version.
	BackupVersionHeader = "Shortify-Backup-Version"
	// BackupIndexHeader is the Raft index the snapshot reflects.
	BackupIndexHeader = "Shortify-Backup-Index"
)

// ClusterBackup is what the backup route needs of the node; *cluster.Node
// implements it.
type ClusterBackup interface {
	// Backup takes a backup on the leader; forward false for a call
	// forwarded already.
	Backup(ctx context.Context, forward bool) ([]byte, error)
}

// backupTimeout bounds taking a backup, forwarding included.
const backupTimeout = 30 * time.Second

func (h *Handler) getBackup(w http.ResponseWriter, r *http.Request) {
	b, ok := h.deps.Cluster.(ClusterBackup)
	if !have(w, ok, "backup-capable control-plane node") {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), backupTimeout)
	defer cancel()
	file, err := b.Backup(ctx, forwardAllowed(r))
	if err != nil {
		h.clusterFailed(w, "take a backup", err)
		return
	}
	hd, _, err := backupfile.Read(bytes.NewReader(file))
	if err != nil {
		h.clusterFailed(w, "take a backup", err)
		return
	}
	w.Header().Set("Content-Type", backupfile.MediaType)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Length", strconv.Itoa(len(file)))
	w.Header().Set("Content-Disposition", `attachment; filename="shortify-`+hd.TakenAt.UTC().Format("20060102T150405Z")+`.backup"`)
	w.Header().Set(BackupSHA256Header, hd.SHA256)
	w.Header().Set(BackupVersionHeader, strconv.Itoa(hd.Version))
	w.Header().Set(BackupIndexHeader, strconv.FormatUint(hd.Index, 10))
	h.log.Info("served a backup of the FSM (holds the code key)", "index", hd.Index, "bytes", len(file),
		"key_id", callerOf(r).key.ID)
	_, _ = w.Write(file)
}
