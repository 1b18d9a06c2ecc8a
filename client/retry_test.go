package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shortify/shortify/client"
)

// flaky answers its first `fails` requests 503 (with Retry-After when
// retryAfter is set, as a problem document when problem is set), then
// 200 with a link.
func flaky(t *testing.T, fails int32, retryAfter string, problem bool) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= fails {
			if retryAfter != "" {
				w.Header().Set("Retry-After", retryAfter)
			}
			if problem {
				w.Header().Set("Content-Type", "application/problem+json")
				w.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprint(w, `{"title":"Service Unavailable","status":503,"detail":"no leader yet"}`)
				return
			}
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"code":"abc","url":"https://example.com/","short_url":"http://sho.test/abc","id":"1","workspace":1,"created_at":"2026-12-05T00:00:00Z","disabled":false,"password_protected":false}`)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestRetryOn503(t *testing.T) {
	get := func(c *client.Client) error { _, err := c.GetLink(context.Background(), "abc", ""); return err }
	post := func(c *client.Client) error {
		_, err := c.CreateLink(context.Background(), client.CreateLinkRequest{URL: "https://example.com/"})
		return err
	}
	for _, tc := range []struct {
		name       string
		fails      int32
		retryAfter string
		problem    bool
		call       func(*client.Client) error
		opts       []client.Option
		wantErr    bool
		wantCalls  int32
	}{
		{name: "GET, Retry-After, problem", fails: 1, retryAfter: "1", problem: true, call: get, wantCalls: 2},
		{name: "GET, no Retry-After, plain", fails: 1, call: get, wantCalls: 2},
		{name: "POST with Retry-After is retried", fails: 1, retryAfter: "1", problem: true, call: post, wantCalls: 2},
		{name: "POST without Retry-After is not", fails: 1, problem: true, call: post, wantErr: true, wantCalls: 1},
		{name: "bounded by the retries", fails: 5, retryAfter: "0", call: get, opts: []client.Option{client.WithRetries(2, time.Second)}, wantErr: true, wantCalls: 3},
		{name: "a wait past the bound is not waited", fails: 1, retryAfter: "3600", problem: true, call: get, wantErr: true, wantCalls: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, n := flaky(t, tc.fails, tc.retryAfter, tc.problem)
			c, err := client.New(srv.URL, tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			err = tc.call(c)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if got := n.Load(); got != tc.wantCalls {
				t.Fatalf("%d requests, want %d", got, tc.wantCalls)
			}
			if err != nil {
				var p *client.Problem
				var se *client.StatusError
				if !errors.As(err, &p) && !errors.As(err, &se) {
					t.Fatalf("err %T %v is neither a Problem nor a StatusError", err, err)
				}
			}
		})
	}
}

// TestRetryContextWins: a context that ends while the client waits out a
// Retry-After ends the call at once.
func TestRetryContextWins(t *testing.T) {
	srv, n := flaky(t, 1, "20", true)
	c, err := client.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = c.GetLink(ctx, "abc", "")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's", err)
	}
	var p *client.Problem
	if !errors.As(err, &p) || p.RetryAfter != 20*time.Second {
		t.Fatalf("err = %v, want it to carry the 503 problem", err)
	}
	if d := time.Since(start); d > 5*time.Second || n.Load() != 1 {
		t.Fatalf("took %v and %d requests", d, n.Load())
	}
}
