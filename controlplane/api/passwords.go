package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/shortify/shortify/internal/problem"
	"github.com/shortify/shortify/internal/smartlink"
)

// DefaultMaxBulkPasswords is the most links with a password one bulk
// create may carry unless configured (Config.MaxBulkPasswords): an
// argon2id hash costs 20-40 ms of a core and 19 MiB, so a bulk of 100
// holds a two-core node's hashing slots for one to two seconds, and a bulk
// of 1000 would hold the request (and every other password create) for
// tens of seconds.
const DefaultMaxBulkPasswords = 100

// hashPassword hashes pw on one of the node's hashing slots (one per core,
// shared by every request, so that hashes never take more than the cores
// and their memory), waiting for a slot no longer than ctx allows. A bad
// password is a 400 naming the field; nil error: the hash.
func (h *Handler) hashPassword(ctx context.Context, pw string) (string, *problem.Details) {
	select {
	case h.hashSlots <- struct{}{}:
	case <-ctx.Done():
		return "", &problem.Details{Status: http.StatusServiceUnavailable, Detail: "the request ended while waiting to hash the password"}
	}
	defer func() { <-h.hashSlots }()
	hash, err := smartlink.HashPassword(pw)
	if err != nil {
		var fe *smartlink.FieldError
		if errors.As(err, &fe) {
			return "", smartProblem(err)
		}
		h.log.ErrorContext(ctx, "hashing a link password failed", "err", err)
		return "", &problem.Details{Status: http.StatusServiceUnavailable, Detail: fmt.Sprintf("the password could not be hashed: %v", err)}
	}
	return hash, nil
}

// hashAll hashes pws[i] into *hashes[i] for every non-nil pws[i], as many
// at once as the node has hashing slots; bad[i] is the refusal of the
// ones that failed. Every goroutine has ended when it returns.
func (h *Handler) hashAll(ctx context.Context, pws []*string, hashes []*string) []*problem.Details {
	bad := make([]*problem.Details, len(pws))
	var wg sync.WaitGroup
	for i, pw := range pws {
		if pw == nil {
			continue
		}
		wg.Go(func() {
			hash, b := h.hashPassword(ctx, *pw)
			if b != nil {
				bad[i] = b
				return
			}
			*hashes[i] = hash
		})
	}
	wg.Wait()
	return bad
}
