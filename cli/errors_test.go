package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"testing"

	"github.com/shortify/shortify/client"
)

func TestExplain(t *testing.T) {
	const server = "http://sho.test"
	dial := &url.Error{Op: "Get", URL: server + "/api/v1/links", Err: &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}}
	for _, tc := range []struct {
		name string
		err  error
		want []string
		code int
	}{
		{"usage", Usage("no API key: set --key or SHORTIFY_API_KEY"), []string{"shortify: no API key: set --key or SHORTIFY_API_KEY"}, ExitUsage},
		{"problem 400", fmt.Errorf("POST /api/v1/links: %w", &client.Problem{Title: "Invalid URL", Status: 400, Detail: "url must be an http(s) URL", Field: "url"}),
			[]string{"shortify: Invalid URL: url must be an http(s) URL (field url) [HTTP 400]"}, ExitRefused},
		{"problem 401", &client.Problem{Title: "Unauthorized", Status: 401}, []string{"Unauthorized [HTTP 401]; check --key or SHORTIFY_API_KEY"}, ExitRefused},
		{"problem 403", &client.Problem{Title: "Forbidden", Status: 403, Detail: "viewer keys cannot create links"}, []string{"viewer keys cannot create links", "role or workspace"}, ExitRefused},
		{"problem 404", &client.Problem{Title: "Not Found", Status: 404, Detail: "no link abc"}, []string{"Not Found: no link abc [HTTP 404]"}, ExitRefused},
		{"problem 503", &client.Problem{Title: "Service Unavailable", Status: 503, Detail: "no leader"}, []string{"no leader [HTTP 503]"}, ExitUnavailable},
		{"status 502", &client.StatusError{Status: 502, Body: "<html>bad gateway</html>\nmore"}, []string{"http://sho.test answered HTTP 502 Bad Gateway: <html>bad gateway</html>"}, ExitUnavailable},
		{"status 404", &client.StatusError{Status: 404}, []string{"answered HTTP 404 Not Found"}, ExitRefused},
		{"network", fmt.Errorf("GET /api/v1/links: %w", dial), []string{"shortify: cannot reach http://sho.test: dial tcp: connect: connection refused"}, ExitUnavailable},
		{"interrupted", fmt.Errorf("GET /api/v1/links: %w", &url.Error{Op: "Get", URL: server, Err: context.Canceled}), []string{"shortify: interrupted"}, ExitInterrupted},
		{"local", errors.New("write out.csv: disk full"), []string{"shortify: write out.csv: disk full"}, ExitFailure},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg, code := Explain(tc.err, server)
			if code != tc.code {
				t.Errorf("code = %d, want %d (%s)", code, tc.code, msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q lacks %q", msg, w)
				}
			}
		})
	}
}
