package client

import (
	"context"
	"net/http"
)

// BackupMediaType is the media type of a control-plane backup.
const BackupMediaType = "application/vnd.shortify.backup"

// Backup returns a backup of the control plane's Raft state (GET
// /api/v1/cluster/backup; an instance admin's key): the file `shortify
// backup` writes, holding the cluster's code key, so keep it like a
// secret. The server checks the file before it sends it; the caller may
// check it again with the header's SHA-256.
func (c *Client) Backup(ctx context.Context) ([]byte, error) {
	resp, err := c.do(ctx, request{method: http.MethodGet, path: "/api/v1/cluster/backup",
		header: http.Header{"Accept": {BackupMediaType + ", application/problem+json"}}})
	if err != nil {
		return nil, err
	}
	return resp.body, nil
}
