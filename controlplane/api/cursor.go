package api

import (
	"errors"
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
