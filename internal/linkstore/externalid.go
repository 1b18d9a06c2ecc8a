package linkstore

// This file holds a link's external ID (issue 17): the creator's own
// identifier for a link, unique among the live links of a workspace, with
// which importers make a second run create nothing.

import (
	"errors"
	"fmt"
	"hash/fnv"
	"unicode"
	"unicode/utf8"

	"github.com/shortify/shortify/internal/smartlink"
)

// MaxExternalID is the longest external ID, in characters.
const MaxExternalID = 255

// ErrExternalIDTaken is wrapped by the error that Create, CreateMany and
// Update return for a link whose external ID another live link of its
// workspace has: an *ExternalIDTakenError, which names that link.
var ErrExternalIDTaken = errors.New("external ID already taken")

// ExternalIDTakenError is the refusal of an external ID that a live link
// of the workspace already has (or that an earlier link of the same
// CreateMany batch has): Existing names that link, so that an importer
// can pick it up instead of creating a second one.
type ExternalIDTakenError struct {
	ExternalID string
	Existing   Key
}

func (e *ExternalIDTakenError) Error() string {
	return fmt.Sprintf("external ID %q is already the link %q's", e.ExternalID, e.Existing.Code)
}

// Unwrap makes the error match ErrExternalIDTaken.
func (e *ExternalIDTakenError) Unwrap() error { return ErrExternalIDTaken }

// ValidateExternalID checks an external ID as the stores take it: 1 to
// MaxExternalID printable characters (unicode.IsPrint: letters, marks,
// numbers, punctuation, symbols and the ASCII space; no control or other
// white-space characters), valid UTF-8. The error is a
// *smartlink.FieldError naming "external_id", as the API's 400 does.
func ValidateExternalID(id string) error {
	bad := func(problem string) error { return &smartlink.FieldError{Field: "external_id", Problem: problem} }
	switch n := utf8.RuneCountInString(id); {
	case id == "":
		return bad(`empty (leave it out for none; "" clears it in a PATCH)`)
	case !utf8.ValidString(id):
		return bad("not valid UTF-8")
	case n > MaxExternalID:
		return bad(fmt.Sprintf("%d characters, more than %d", n, MaxExternalID))
	}
	for _, r := range id {
		if !unicode.IsPrint(r) {
			return bad(fmt.Sprintf("the character %U is not printable", r))
		}
	}
	return nil
}

// ExternalIDLockKey is the 32-bit key under which a store serialises the
// writers of one external ID of one workspace (pgstore takes
// pg_advisory_xact_lock(class, key) before it checks and writes the
// external ID): equal IDs of a workspace always share a key; different
// ones rarely do, which only makes them wait for each other.
func ExternalIDLockKey(workspaceID int64, externalID string) int32 {
	h := fnv.New32a()
	var ws [8]byte
	for i := range ws {
		ws[i] = byte(workspaceID >> (8 * i))
	}
	h.Write(ws[:])
	h.Write([]byte(externalID))
	return int32(h.Sum32())
}
