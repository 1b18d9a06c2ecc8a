package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/shortify/shortify/internal/codegen"
	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/snowflake"
	"github.com/shortify/shortify/internal/testkit/linkseed"
	"github.com/shortify/shortify/internal/workspace"
)

// seedCodeLen is the length of a seeded code. The cluster issues
// 6-character codes (the first tier of its sequence) for the whole run, so
// 7-character codes of a key of our own are codes the edges resolve like
// any other, and no create during the run can be given one of them.
const seedCodeLen = codegen.DefaultMinLength + 1

// seedTarget starts every seeded link's URL; the code follows, so each
// link has a URL of its own.
const seedTarget = "https://example.com/l/"

// seedHost is every seeded link's host column, as the store derives it
// from the URL.
var seedHost = linkstore.HostOf(seedTarget)

// seedWorker is the Snowflake worker ID of the seeded links' IDs: the
// highest, which no control-plane node of the stack takes.
const seedWorker = snowflake.MaxWorker

// codes are the seeded links' codes, rank order: the code of rank i
// (Zipf's i-th most popular) is At(i). One flat byte slice, so that ten
// million codes cost 70 MB and no pointers.
type codes struct {
	flat []byte
}

// Len is how many codes there are.
func (c *codes) Len() int { return len(c.flat) / seedCodeLen }

// At is the code of rank i.
func (c *codes) At(i int) string { return string(c.flat[i*seedCodeLen : (i+1)*seedCodeLen]) }

// makeSeedCodes returns n distinct codes under a fresh key: sequence
// numbers of the second tier (7 characters) through a keyed permutation,
// so neighbouring ranks have unrelated codes, as issued codes do. The
// work is split over workers goroutines (an AES permutation each).
func makeSeedCodes(n, workers int) (*codes, error) {
	key, err := codegen.NewKey()
	if err != nil {
		return nil, fmt.Errorf("codes: %w", err)
	}
	codec, err := codegen.New(key)
	if err != nil {
		return nil, fmt.Errorf("codes: %w", err)
	}
	// The first number of the 7-character tier: the 6-character tier holds
	// 62^6 numbers.
	first := uint64(1)
	for range codegen.DefaultMinLength {
		first *= 62
	}
	c := &codes{flat: make([]byte, n*seedCodeLen)}
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				code, err := codec.Code(first + uint64(i))
				if err == nil && len(code) != seedCodeLen {
					err = fmt.Errorf("code %q is not %d characters", code, seedCodeLen)
				}
				if err != nil {
					errs[w] = fmt.Errorf("code %d: %w", i, err)
					return
				}
				copy(c.flat[i*seedCodeLen:], code)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return c, nil
}

// seededLink is the link of rank i as the product's store writes a plain
// link (pgstore's insert): status 0 (the edge's default, 302), a URL of
// its own, a Snowflake ID whose time is its creation time, the default
// workspace on the instance's own host (domain ""), host as
// linkstore.HostOf gives it, every optional column NULL.
func seededLink(i int, code string, base time.Time) linkstore.Link {
	// 4096 IDs per millisecond, as a busy node issues them.
	ms := base.UnixMilli() - snowflake.EpochUnixMilli + int64(i>>snowflake.SequenceBits)
	id := ms<<(snowflake.WorkerBits+snowflake.SequenceBits) | int64(seedWorker)<<snowflake.SequenceBits | int64(i&snowflake.MaxSequence)
	created := time.UnixMilli(ms + snowflake.EpochUnixMilli).UTC()
	return linkstore.Link{ID: id, Code: code, URL: seedTarget + code, CreatedAt: created, WorkspaceID: workspace.DefaultID}
}

// seed COPYs one link per code into the links table of dsn (the schema
// must be there: the control plane migrates it at start), from workers
// connections side by side, each a contiguous range of ranks, then
// ANALYZEs the table (linkseed). base is the seeded links' creation time
// (their IDs follow it). It tells Redis and the edges nothing: they fill
// on misses.
func seed(ctx context.Context, dsn string, c *codes, workers int, base time.Time) error {
	// The non-unique indexes are built after the COPY: maintained row by
	// row, the search's trigram index made ten million links take most of
	// an hour. The stack is at rest meanwhile (no load before the seed), so
	// its control plane only waits on the builds' locks if it writes.
	cfg := linkseed.Config{DSN: dsn, N: c.Len(), Workers: workers, Host: seedHost, DeferIndexes: true}
	if _, err := linkseed.Copy(ctx, cfg, func(i int) (linkstore.Link, error) { return seededLink(i, c.At(i), base), nil }); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	return nil
}
