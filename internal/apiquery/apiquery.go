// Package apiquery checks the query strings of Shortify's HTTP APIs
// strictly, so that the control plane's API and the stats API answer a bad
// query string alike: a malformed query, an unknown parameter or a repeated
// one is a 400 problem document naming it.
package apiquery

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/shortify/shortify/internal/problem"
)

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
