package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shortify/shortify/internal/linkstore"
)

// LookupMany reads the links of keys as Lookup reads one (a healthy
// replica, the codes it lacks confirmed on the primary; live and
// retired-expired links, taken-down ones), in one round trip to each (a
// pgx batch of Lookup's statement). The map holds the links found; a key
// absent from it is not found. It is the edge's warm start
// (caddymodule/warm.go), which loads the hot codes Redis lacks before the
// edge takes traffic; the redirect path's Lookups share queries on their
// own (lookupbatch.go).
func (s *Store) LookupMany(ctx context.Context, keys []linkstore.Key) (map[linkstore.Key]linkstore.Link, error) {
	out := make(map[linkstore.Key]linkstore.Link, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	rest := keys
	if r := s.pickReplica(); r != nil {
		if err := getMany(ctx, r.pool, keys, out); err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("pgstore: lookup %d codes: %w", len(keys), err)
			}
			r.failed()
			clear(out)
		} else {
			s.reads.replicaHits.Add(uint64(len(out)))
			rest = make([]linkstore.Key, 0, len(keys)-len(out))
			for _, k := range keys {
				if _, ok := out[k]; !ok {
					rest = append(rest, k)
				}
			}
			s.reads.confirmations.Add(uint64(len(rest)))
		}
	}
	if len(rest) == 0 {
		return out, nil
	}
	before := len(out)
	if err := getMany(ctx, s.reader, rest, out); err != nil {
		return nil, fmt.Errorf("pgstore: lookup %d codes: %w", len(rest), err)
	}
	if len(rest) != len(keys) { // confirmations of a replica's misses
		s.reads.confirmedFound.Add(uint64(len(out) - before))
	} else {
		s.reads.primaryReads.Add(uint64(len(rest)))
	}
	return out, nil
}

// getMany runs Lookup's statement for every key in one batch on pool and
// adds the links the edge sees to out.
func getMany(ctx context.Context, pool *pgxpool.Pool, keys []linkstore.Key, out map[linkstore.Key]linkstore.Link) error {
	var b pgx.Batch
	for _, k := range keys {
		b.Queue(sqlLookup, k.Code, k.Domain)
	}
	br := pool.SendBatch(ctx, &b)
	for _, k := range keys {
		l, err := scanRow(br.QueryRow(), k.Code, true)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			_ = br.Close()
			return err
		case l.EdgeSees():
			out[k] = l
		}
	}
	return br.Close()
}
