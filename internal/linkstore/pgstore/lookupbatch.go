package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shortify/shortify/internal/batcher"
	"github.com/shortify/shortify/internal/linkstore"
)

// Why Lookup batches (issue 19): on the edge, an L1 miss that the
// database answers costs a round trip to it, whose system calls, wake-ups
// and per-statement work in the server cost more than the rest of the
// request. Lookups that arrive while lookupFlights queries are under way
// wait for the next one and go together in one query (sqlLookupMany); a
// Lookup that finds a flight free goes at once, alone, with Lookup's
// single-row statement (lookupOne): batching adds no wait when there is
// no queue.
//
// Each request keeps what Lookup promised it alone: its budget is checked
// before it joins (Lookup), and the batch's query is checked against the
// latest deadline of its requests (prepareConn); a batch reads the next
// replica in rotation and confirms the codes it lacks on the primary in
// one more query; a replica error takes it out of rotation and sends the
// whole batch to the primary; the counters count codes, not queries.

const (
	// lookupBatchMax bounds the codes of one query.
	lookupBatchMax = 64

	// sqlLookupMany is sqlLookup for many codes: the pairs of codes
	// ($1) and domains ($2) asked, joined to links. Its arrays keep it
	// one statement whatever the batch's size, prepared once per
	// connection; its generic plan is a nested loop over the pairs, each
	// one an index probe of (code, domain) in the one partition that
	// holds its code (pruned as it runs). Not code = ANY($1): that
	// generic plan scans all 16 partitions, none pruned.
	sqlLookupMany = `SELECT code, ` + edgeColumns + ` FROM unnest($1::text[], $2::text[]) AS k(want_code, want_domain) JOIN links ON code = want_code AND domain = want_domain`
)

// lookupFlights is how many batches may query at once: one connection's
// worth each of the primary's pool, so that requests queue for a batch
// rather than for a connection.
func lookupFlights(primary *pgxpool.Pool) int {
	return int(primary.Config().MaxConns)
}

// lookupBatch is the batcher's function: Lookup's semantics for keys.
func (s *Store) lookupBatch(ctx context.Context, keys []linkstore.Key, out []batcher.Result[linkstore.Link]) {
	if len(keys) == 1 {
		out[0].Val, out[0].Err = s.lookupOne(ctx, keys[0].Domain, keys[0].Code)
		return
	}
	found, err := s.lookupKeys(ctx, keys)
	if err != nil {
		failAll(keys, out, err)
		return
	}
	for i, k := range keys {
		if l, ok := found[k]; ok {
			out[i].Val = l
		} else {
			out[i].Err = linkstore.ErrNotFound
		}
	}
}

// lookupKeys reads the links of keys that the edge sees as Lookup reads
// one: from the next replica in rotation, the codes it lacks confirmed on
// the primary, in one query each; a replica error takes the replica out
// of rotation and asks the primary for every key. The error is that of
// the query that failed.
func (s *Store) lookupKeys(ctx context.Context, keys []linkstore.Key) (map[linkstore.Key]linkstore.Link, error) {
	found := make(map[linkstore.Key]linkstore.Link, len(keys))
	rest := keys
	confirm := false
	if r := s.pickReplica(); r != nil {
		err := lookupRows(ctx, r.pool, &r.lookups, keys, found)
		switch {
		case err == nil:
			s.reads.replicaHits.Add(uint64(len(found)))
			rest = make([]linkstore.Key, 0, len(keys)-len(found))
			for _, k := range keys {
				if _, ok := found[k]; !ok {
					rest = append(rest, k)
				}
			}
			confirm = true
		case ctx.Err() != nil || errors.Is(err, ErrNoTime):
			return nil, err // says nothing certain about the replica
		default:
			r.failed()
			clear(found)
		}
	}
	if len(rest) == 0 {
		return found, nil
	}
	before := len(found)
	if err := lookupRows(ctx, s.reader, &s.lookups, rest, found); err != nil {
		return nil, err
	}
	if confirm {
		s.reads.confirmations.Add(uint64(len(rest)))
		s.reads.confirmedFound.Add(uint64(len(found) - before))
	} else {
		s.reads.primaryReads.Add(uint64(len(rest)))
	}
	return found, nil
}

// failAll answers every key with Lookup's error.
func failAll(keys []linkstore.Key, out []batcher.Result[linkstore.Link], err error) {
	for i, k := range keys {
		out[i].Err = fmt.Errorf("pgstore: lookup %q: %w", k.Code, err)
	}
}

// lookupRows reads the links of keys that the edge sees into found, in
// one query on pool, timed by clock (budget.go).
func lookupRows(ctx context.Context, pool *pgxpool.Pool, clock *lookupClock, keys []linkstore.Key, found map[linkstore.Key]linkstore.Link) error {
	ctx, t := clock.withLookup(ctx)
	defer t.done()
	codes, domains := make([]string, len(keys)), make([]string, len(keys))
	for i, k := range keys {
		codes[i], domains[i] = k.Code, k.Domain
	}
	rows, err := pool.Query(ctx, sqlLookupMany, codes, domains)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		sc := scanner{edge: true}
		if err := rows.Scan(sc.dest(true)...); err != nil {
			return err
		}
		l, err := sc.link()
		if err != nil {
			return err
		}
		if l.EdgeSees() {
			found[linkstore.Key{Domain: l.Domain, Code: l.Code}] = l
		}
	}
	return rows.Err()
}
