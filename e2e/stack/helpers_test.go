// Package stack_test runs the production shape (internal/testkit/stack,
// what `make stack` starts) and does to it what production will. It is a
// package of its own, apart from e2e, so that `make test` runs it beside
// the other end-to-end tests rather than after them.
package stack_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/shortify/shortify/internal/testkit/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// link is a link as the API acknowledged it.
type link struct {
	Code     string `json:"code"`
	ShortURL string `json:"short_url"`
	URL      string `json:"url"`
}

// noFollow is a client that reports redirects instead of following them.
var noFollow = &http.Client{
	Timeout:       10 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}
