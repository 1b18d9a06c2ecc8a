package pgstore

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/workspace"
)

// sqlTags counts the tags of a workspace's live links, one row per tag
// ignoring ASCII case (the third column, linkstore.FoldASCII in SQL;
// min() picks one spelling, stably).
const sqlTags = `SELECT min(t), count(*), translate(t, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') FROM links, unnest(tags) AS t
WHERE workspace_id = $1 AND retired_at IS NULL AND tags IS NOT NULL
GROUP BY 3 ORDER BY count(*) DESC, 3`

// Tags returns the workspace's tags with their link counts (see
// linkstore.Store).
func (s *Store) Tags(ctx context.Context, workspaceID int64) ([]linkstore.TagCount, error) {
	rows, err := s.primary.Query(ctx, sqlTags, workspace.Of(workspaceID))
	if err != nil {
		return nil, fmt.Errorf("pgstore: tags: %w", err)
	}
	tags := []linkstore.TagCount{}
	var (
		tc     linkstore.TagCount
		folded string
	)
	if _, err := pgx.ForEachRow(rows, []any{&tc.Tag, &tc.Links, &folded}, func() error {
		tags = append(tags, tc)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("pgstore: tags: %w", err)
	}
	return tags, nil
}

// RenameTag renames a tag on the workspace's live links (see
// linkstore.Store).
func (s *Store) RenameTag(ctx context.Context, workspaceID int64, tag, name string) (int64, error) {
	if err := linkstore.CheckTagChange(tag, name); err != nil {
		return 0, fmt.Errorf("pgstore: rename tag: %w", err)
	}
	return s.replaceTag(ctx, workspaceID, tag, name)
}

// DeleteTag removes a tag from the workspace's live links (see
// linkstore.Store).
func (s *Store) DeleteTag(ctx context.Context, workspaceID int64, tag string) (int64, error) {
	if err := linkstore.CheckTagChange(tag, ""); err != nil {
		return 0, fmt.Errorf("pgstore: delete tag: %w", err)
	}
	return s.replaceTag(ctx, workspaceID, tag, "")
}

// sqlTagged locks the workspace's live links that have a tag (through the
// GIN index on the lower-cased tags), in key order so that two renames
// cannot deadlock.
const sqlTagged = `SELECT code, domain, tags FROM links
WHERE workspace_id = $1 AND retired_at IS NULL AND tags IS NOT NULL AND shortify_lower_tags(tags) @> ARRAY[$2::text]
ORDER BY code, domain FOR UPDATE`

// sqlRetag sets the tags of links given as arrays (tags joined by
// newlines, "" for none: NULL).
const sqlRetag = `UPDATE links SET tags = CASE WHEN t.tg = '' THEN NULL ELSE string_to_array(t.tg, E'\n') END
FROM unnest($1::text[], $2::text[], $3::text[]) AS t (c, dm, tg)
WHERE links.code = t.c AND links.domain = t.dm`

// replaceTag applies linkstore.ReplaceTag to the workspace's links that
// have tag, in one transaction.
func (s *Store) replaceTag(ctx context.Context, workspaceID int64, tag, name string) (int64, error) {
	var n int64
	err := pgx.BeginFunc(ctx, s.primary, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, sqlTagged, workspace.Of(workspaceID), linkstore.FoldASCII(tag))
		if err != nil {
			return err
		}
		var (
			codes, domains, tagsCol []string
			code, domain            string
			tags                    []string
		)
		if _, err := pgx.ForEachRow(rows, []any{&code, &domain, &tags}, func() error {
			if nt, changed := linkstore.ReplaceTag(tags, tag, name); changed {
				codes, domains = append(codes, code), append(domains, domain)
				tagsCol = append(tagsCol, strings.Join(nt, "\n"))
			}
			return nil
		}); err != nil {
			return err
		}
		if len(codes) == 0 {
			return nil
		}
		ct, err := tx.Exec(ctx, sqlRetag, codes, domains, tagsCol)
		n = ct.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("pgstore: retag %q: %w", tag, err)
	}
	return n, nil
}
