package api

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/shortify/shortify/internal/problem"
	"github.com/shortify/shortify/internal/targeturl"
)

// DefaultMaxConcurrentBulk is how many bulk creates a node runs at once
// unless configured: each holds up to MaxBulk links in memory and a store
// transaction, and a node has few cores.
const DefaultMaxConcurrentBulk = 4

// bulkItemOverhead bounds the JSON around one link's URL in a bulk body:
// the field names, an alias (at most 64 characters), an RFC 3339 expiry, a
// status, punctuation, some whitespace and the \u0026 escapes that JSON
// encoders write for & < > in a URL.
const bulkItemOverhead = 512

// bulkBodyLimit is the largest bulk body accepted: MaxBulk links of the
// longest URL the policy accepts, and no more, so that the cap follows
// max_url_length instead of a fixed size of its own.
func (h *Handler) bulkBodyLimit() int64 {
	maxURL := cmp.Or(h.cfg.Targets.MaxLength, targeturl.DefaultMaxLength)
	return int64(MaxBulk)*int64(maxURL+bulkItemOverhead) + 1024
}

// acquireBulk takes one of the node's bulk slots, answering 503 itself
// when all are taken; release the slot with releaseBulk.
func (h *Handler) acquireBulk(w http.ResponseWriter) bool {
	select {
	case h.bulkSlots <- struct{}{}:
		return true
	default:
		w.Header().Set("Retry-After", "1")
		problem.Write(w, http.StatusServiceUnavailable, "this node is running as many bulk creates as it allows; retry shortly")
		return false
	}
}

func (h *Handler) releaseBulk() { <-h.bulkSlots }

// errBulkShape is a bulk body that is JSON but not {"links": [...]}.
type errBulkShape struct{ detail string }

func (e errBulkShape) Error() string { return e.detail }

// decodeBulk reads a bulk body one link at a time and stops at link
// MaxBulk+1, so that the memory a body costs follows the links accepted,
// not the body: decoding a whole array before counting it let a few MB of
// "{}" items cost hundreds of MB. It answers the client itself when the
// body is unacceptable.
func (h *Handler) decodeBulk(w http.ResponseWriter, r *http.Request) ([]CreateLinkRequest, bool) {
	limit := h.bulkBodyLimit()
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	dec.DisallowUnknownFields()
	links, err := readBulk(dec)
	var shape errBulkShape
	switch {
	case errors.Is(err, errTooManyLinks):
		problem.WriteField(w, http.StatusBadRequest, "links", fmt.Sprintf("links holds more than %d links; at most %d per request", MaxBulk, MaxBulk))
		return nil, false
	case errors.As(err, &shape):
		problem.WriteField(w, http.StatusBadRequest, "links", shape.detail)
		return nil, false
	case err != nil:
		writeDecodeError(w, err, limit)
		return nil, false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		problem.Write(w, http.StatusBadRequest, "the body must hold exactly one JSON object")
		return nil, false
	}
	return links, true
}

// errTooManyLinks: the array goes on past MaxBulk links.
var errTooManyLinks = errors.New("too many links")

// readBulk reads {"links": [...]} from dec, link by link.
func readBulk(dec *json.Decoder) ([]CreateLinkRequest, error) {
	if err := delim(dec, '{', "the body must be a JSON object such as {\"links\": [...]}"); err != nil {
		return nil, err
	}
	var links []CreateLinkRequest
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		if name, _ := tok.(string); name != "links" {
			return nil, fmt.Errorf("json: unknown field %q", tok)
		}
		if links != nil {
			return nil, errBulkShape{"links appears more than once"}
		}
		if err := delim(dec, '[', "links must be an array of links to create"); err != nil {
			return nil, err
		}
		links = make([]CreateLinkRequest, 0, 16)
		for dec.More() {
			if len(links) == MaxBulk {
				return nil, errTooManyLinks
			}
			var item CreateLinkRequest
			if err := dec.Decode(&item); err != nil {
				return nil, err
			}
			links = append(links, item)
		}
		if err := delim(dec, ']', "links must be an array of links to create"); err != nil {
			return nil, err
		}
	}
	if err := delim(dec, '}', "the body must be a JSON object such as {\"links\": [...]}"); err != nil {
		return nil, err
	}
	return links, nil
}

// delim reads the next token and wants it to be d; another token is an
// errBulkShape with detail.
func delim(dec *json.Decoder, d json.Delim, detail string) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if got, ok := tok.(json.Delim); !ok || got != d {
		return errBulkShape{detail}
	}
	return nil
}
