package sqlitestore

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/workspace"
)

// sqlTagged reads the tags of the workspace's live links that have any.
const sqlTagged = `SELECT code, domain, tags FROM links
WHERE workspace_id = ? AND retired_at IS NULL AND tags IS NOT NULL`

// Tags returns the workspace's tags with their link counts (see
// linkstore.Store), counted in Go over the tagged links: SQLite has no
// array to unnest, and the embedded store holds few links.
func (s *Store) Tags(ctx context.Context, workspaceID int64) ([]linkstore.TagCount, error) {
	counts := map[string]*linkstore.TagCount{}
	err := s.eachTagged(ctx, s.r, workspaceID, func(_, _ string, tags []string) error {
		for _, t := range tags {
			k := linkstore.FoldASCII(t)
			tc := counts[k]
			if tc == nil {
				tc = &linkstore.TagCount{Tag: t}
				counts[k] = tc
			}
			tc.Tag = min(tc.Tag, t) // one spelling, stably, as pgstore's min()
			tc.Links++
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlitestore: tags: %w", err)
	}
	out := make([]linkstore.TagCount, 0, len(counts))
	for _, tc := range counts {
		out = append(out, *tc)
	}
	slices.SortFunc(out, func(a, b linkstore.TagCount) int {
		return cmp.Or(cmp.Compare(b.Links, a.Links), strings.Compare(linkstore.FoldASCII(a.Tag), linkstore.FoldASCII(b.Tag)))
	})
	return out, nil
}

// querier is what eachTagged reads with: the read pool or a transaction.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// eachTagged calls f with the key and tags of each of the workspace's live
// tagged links.
func (s *Store) eachTagged(ctx context.Context, q querier, workspaceID int64, f func(code, domain string, tags []string) error) error {
	rows, err := q.QueryContext(ctx, sqlTagged, workspace.Of(workspaceID))
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var code, domain, tags string
		if err := rows.Scan(&code, &domain, &tags); err != nil {
			return err
		}
		if err := f(code, domain, strings.Split(tags, "\n")); err != nil {
			return err
		}
	}
	return rows.Err()
}

// RenameTag renames a tag on the workspace's live links (see
// linkstore.Store).
func (s *Store) RenameTag(ctx context.Context, workspaceID int64, tag, name string) (int64, error) {
	if err := linkstore.CheckTagChange(tag, name); err != nil {
		return 0, fmt.Errorf("sqlitestore: rename tag: %w", err)
	}
	return s.replaceTag(ctx, workspaceID, tag, name)
}

// DeleteTag removes a tag from the workspace's live links (see
// linkstore.Store).
func (s *Store) DeleteTag(ctx context.Context, workspaceID int64, tag string) (int64, error) {
	if err := linkstore.CheckTagChange(tag, ""); err != nil {
		return 0, fmt.Errorf("sqlitestore: delete tag: %w", err)
	}
	return s.replaceTag(ctx, workspaceID, tag, "")
}

// replaceTag applies linkstore.ReplaceTag to the workspace's links in one
// transaction on the write connection.
func (s *Store) replaceTag(ctx context.Context, workspaceID int64, tag, name string) (int64, error) {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("sqlitestore: retag %q: %w", tag, err)
	}
	defer tx.Rollback() // after Commit, a no-op
	type change struct{ code, domain, tags string }
	var changes []change
	err = s.eachTagged(ctx, tx, workspaceID, func(code, domain string, tags []string) error {
		if nt, changed := linkstore.ReplaceTag(tags, tag, name); changed {
			changes = append(changes, change{code, domain, strings.Join(nt, "\n")})
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("sqlitestore: retag %q: %w", tag, err)
	}
	for _, c := range changes {
		if _, err := tx.ExecContext(ctx, `UPDATE links SET tags = ? WHERE code = ? AND domain = ?`,
			textOrNull(c.tags), c.code, c.domain); err != nil {
			return 0, fmt.Errorf("sqlitestore: retag %q: %w", tag, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("sqlitestore: retag %q: %w", tag, err)
	}
	return int64(len(changes)), nil
}
