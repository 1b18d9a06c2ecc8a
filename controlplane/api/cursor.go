package api

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/shortify/shortify/internal/base62"
)

// A list cursor names the last link of a page: the page after it lists
// the links with a lower ID. It is the link's Snowflake ID in Base62,
// padded to cursorDigits, followed by one check digit, so that a cursor
// that was cut short, mistyped or made up is refused with a 400 instead of
// quietly answering an empty page (any Base62 string is some number, and
// a small number is an ID before every link).

// cursorDigits is the width of a cursor's ID: 62^11 passes the largest
// int64.
const cursorDigits = 11

// errBadCursor is what every malformed cursor gets: the API never tells
// which check failed, there is only one way to get a good cursor.
var errBadCursor = errors.New("cursor is not one this API gave out; use next_cursor from the previous page, or leave cursor out for the first page")

// encodeCursor is the cursor of the page after the link with ID id (> 0).
func encodeCursor(id int64) string {
	s := base62.Encode(uint64(id), cursorDigits)
	return s + string(base62.Alphabet[cursorCheck(s)])
}

// decodeCursor returns the ID a cursor names, or errBadCursor.
func decodeCursor(s string) (int64, error) {
	if len(s) != cursorDigits+1 {
		return 0, errBadCursor
	}
	digits, check := s[:cursorDigits], s[cursorDigits]
	n, err := base62.Decode(digits)
	if err != nil || n == 0 || n > 1<<63-1 {
		return 0, errBadCursor
	}
	if strings.IndexByte(base62.Alphabet, check) != cursorCheck(digits) {
		return 0, errBadCursor
	}
	return int64(n), nil
}

// cursorCheck is the check digit of a cursor's valid Base62 digits: their
// values weighted 1, 3, 5, ... modulo 62. The weights are odd and not 31,
// so prime to 62: changing any one digit changes the check digit.
func cursorCheck(digits string) int {
	sum := 0
	for i := range len(digits) {
		sum += (2*i + 1) * strings.IndexByte(base62.Alphabet, digits[i])
	}
	return sum % 62
}

// nextCursor is the cursor of the page after items, a page of at most
// limit: none after a page that is not full.
func nextCursor[T any](items []T, limit int, id func(T) int64) string {
	if len(items) == 0 || len(items) < limit {
		return ""
	}
	return encodeCursor(id(items[len(items)-1]))
}

// pageSize is the page size a list's limit parameter asks for
// (DefaultPageSize without one).
func pageSize(vals url.Values) (int, *paramError) {
	v := vals.Get("limit")
	if v == "" {
		return DefaultPageSize, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > MaxPageSize {
		return 0, &paramError{"limit", fmt.Sprintf("limit must be a number from 1 to %d", MaxPageSize)}
	}
	return n, nil
}

// parsePage reads the limit (pageSize) and cursor parameters of a list.
func parsePage(vals url.Values) (limit int, before int64, bad *paramError) {
	if limit, bad = pageSize(vals); bad != nil {
		return 0, 0, bad
	}
	if vals.Has("cursor") {
		// An empty cursor too: listing the first page again would loop a
		// client that pastes an empty next_cursor forever.
		id, err := decodeCursor(vals.Get("cursor"))
		if err != nil {
			return 0, 0, &paramError{"cursor", err.Error()}
		}
		before = id
	}
	return limit, before, nil
}

// A cursor of a listing sorted by clicks names the last link's clicks
// and ID: both in Base62, cursorDigits each (clicks first), then one
// check digit over the two. Its length tells it from an ID cursor, so
// that a cursor of one order given with the other is refused.

// encodeClicksCursor is the cursor of the page after the link with
// clicks (>= 0) and ID id (> 0), sorted by clicks.
func encodeClicksCursor(clicks, id int64) string {
	s := base62.Encode(uint64(clicks), cursorDigits) + base62.Encode(uint64(id), cursorDigits)
	return s + string(base62.Alphabet[cursorCheck(s)])
}

// decodeClicksCursor returns the clicks and the ID that a cursor of a
// listing sorted by clicks names, or errBadCursor.
func decodeClicksCursor(s string) (clicks, id int64, err error) {
	if len(s) != 2*cursorDigits+1 {
		return 0, 0, errBadCursor
	}
	digits, check := s[:2*cursorDigits], s[2*cursorDigits]
	c, errC := base62.Decode(digits[:cursorDigits])
	n, errN := base62.Decode(digits[cursorDigits:])
	if errC != nil || errN != nil || c > 1<<63-1 || n == 0 || n > 1<<63-1 {
		return 0, 0, errBadCursor
	}
	if strings.IndexByte(base62.Alphabet, check) != cursorCheck(digits) {
		return 0, 0, errBadCursor
	}
	return int64(c), int64(n), nil
}
