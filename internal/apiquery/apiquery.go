// Package apiquery checks the query strings and path arguments of
// Shortify's HTTP APIs strictly, so that the control plane's API and the
// stats API answer bad input alike: a malformed query, an unknown
// parameter, a repeated one or a code that cannot be a short code is a
// 400 problem document naming it.
package apiquery

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/shortify/shortify/internal/problem"
	"github.com/shortify/shortify/internal/shortcode"
)

// PathCode reads and checks the {code} path argument, answering 400
// itself (field "code") when it cannot be a short code.
func PathCode(w http.ResponseWriter, r *http.Request) (string, bool) {
	code := r.PathValue("code")
	if !shortcode.WellFormed(code) {
		problem.WriteField(w, http.StatusBadRequest, "code",
			fmt.Sprintf("%q is not a short code (1 to %d characters of A-Z, a-z, 0-9, '_' and '-')", code, shortcode.MaxLen))
		return "", false
	}
	return code, true
}

// Params parses r's query string and checks it against the allowed
// parameter names, answering 400 itself for a malformed query or an
// unknown or repeated parameter (naming the first, in sorted order, so
// that the answer does not depend on map order).
func Params(w http.ResponseWriter, r *http.Request, allowed []string) (url.Values, bool) {
	values, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		problem.Write(w, http.StatusBadRequest, "the query string is malformed: "+err.Error())
		return nil, false
	}
	names := make([]string, 0, len(values))
	for name := range values {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !slices.Contains(allowed, name) {
			problem.WriteField(w, http.StatusBadRequest, name,
				fmt.Sprintf("unknown query parameter %q; allowed: %s", name, strings.Join(allowed, ", ")))
			return nil, false
		}
		if len(values[name]) > 1 {
			problem.WriteField(w, http.StatusBadRequest, name, fmt.Sprintf("query parameter %q is given more than once", name))
			return nil, false
		}
	}
	return values, true
}

// Bool reads the optional boolean parameter name of vals (which Params
// checked): absent, "false" or "true", answering 400 itself for anything
// else.
func Bool(w http.ResponseWriter, vals url.Values, name string) (value, ok bool) {
	switch v := vals.Get(name); v {
	case "", "false":
		return false, true
	case "true":
		return true, true
	default:
		problem.WriteField(w, http.StatusBadRequest, name, fmt.Sprintf("%s must be true or false, not %q", name, v))
		return false, false
	}
}
