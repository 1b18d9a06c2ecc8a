package sqlitestore

// External IDs are unique among the live links of a workspace: migration
// 0010's unique partial index enforces it; the code here finds the link
// that has one already, so that the refusal names it.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/workspace"
)

// sqlExternalID finds a live link of the workspace with the external ID.
const sqlExternalID = `SELECT code, domain FROM links
WHERE workspace_id = ? AND external_id = ? AND retired_at IS NULL LIMIT 1`

// externalIDKey is an external ID in its workspace.
type externalIDKey struct {
	ws int64
	id string
}

// takenExternalID returns the *linkstore.ExternalIDTakenError for l when
// a live link of its workspace (in tx, or inserted earlier in the batch:
// batch) has its external ID, nil when it is free or l has none, and the
// query's error apart.
func takenExternalID(ctx context.Context, tx *sql.Tx, l linkstore.Link, batch map[externalIDKey]linkstore.Key) (taken, err error) {
	if l.ExternalID == "" {
		return nil, nil
	}
	ws := workspace.Of(l.WorkspaceID)
	if k, ok := batch[externalIDKey{ws, l.ExternalID}]; ok {
		return &linkstore.ExternalIDTakenError{ExternalID: l.ExternalID, Existing: k}, nil
	}
	var k linkstore.Key
	switch err := tx.QueryRowContext(ctx, sqlExternalID, ws, l.ExternalID).Scan(&k.Code, &k.Domain); {
	case errors.Is(err, sql.ErrNoRows):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("check external ID: %w", err)
	}
	return &linkstore.ExternalIDTakenError{ExternalID: l.ExternalID, Existing: k}, nil
}

// externalIDConflict turns the error of an update that set the external
// ID id into a *linkstore.ExternalIDTakenError when the unique index
// refused it, naming the link that has it; other errors come back as
// they are.
func (s *Store) externalIDConflict(ctx context.Context, domain, code, id string, err error) error {
	if se, ok := errors.AsType[*sqlite.Error](err); !ok || se.Code() != sqlite3.SQLITE_CONSTRAINT_UNIQUE {
		return err
	}
	var ws int64
	if err := s.r.QueryRowContext(ctx, `SELECT workspace_id FROM links WHERE code = ? AND domain = ?`, code, domain).Scan(&ws); err != nil {
		return fmt.Errorf("external ID %q refused, and its link not found: %w", id, err)
	}
	var k linkstore.Key
	if err := s.r.QueryRowContext(ctx, sqlExternalID, ws, id).Scan(&k.Code, &k.Domain); err != nil {
		return fmt.Errorf("external ID %q refused, and the link that has it not found: %w", id, err)
	}
	return &linkstore.ExternalIDTakenError{ExternalID: id, Existing: k}
}

// byExternalIDsChunk bounds the external IDs of one query, well under
// SQLite's limit on bound parameters.
const byExternalIDsChunk = 500

// ByExternalIDs reads the live links of the workspace that have one of
// ids, by external ID, with migration 0010's index (one query per
// byExternalIDsChunk IDs).
func (s *Store) ByExternalIDs(ctx context.Context, workspaceID int64, ids []string) (map[string]linkstore.Link, error) {
	found := make(map[string]linkstore.Link)
	for chunk := range slices.Chunk(ids, byExternalIDsChunk) {
		args := make([]any, 0, len(chunk)+1)
		args = append(args, workspace.Of(workspaceID))
		for _, id := range chunk {
			args = append(args, id)
		}
		q := `SELECT ` + listColumns + ` FROM links WHERE workspace_id = ? AND retired_at IS NULL AND external_id IN (?` +
			strings.Repeat(", ?", len(chunk)-1) + `)`
		rows, err := s.r.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, fmt.Errorf("sqlitestore: links by external ID: %w", err)
		}
		links, err := scanRows(rows, len(chunk))
		if err != nil {
			return nil, fmt.Errorf("sqlitestore: links by external ID: %w", err)
		}
		for _, l := range links {
			found[l.ExternalID] = l
		}
	}
	return found, nil
}
