// Package webhooktest is a webhook receiver for tests: a real HTTP
// server on loopback that verifies every request's Standard Webhooks
// signature, deduplicates by webhook-id as a receiver should, and can
// answer errors to the first attempts of each message.
package webhooktest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/shortify/shortify/webhooks"
	"github.com/shortify/shortify/webhooks/signature"
)

// Message is a delivered message: its webhook-id and decoded body.
type Message struct {
	ID   string
	Type webhooks.Event
	Body []byte
	// Link, Deleted or Clicks is the decoded data, by Type.
	Link    *webhooks.LinkData
	Deleted *webhooks.DeletedData
	Clicks  []webhooks.Click
}

// Receiver is the server. Its URL is on 127.0.0.1.
type Receiver struct {
	tb     testing.TB
	srv    *httptest.Server
	secret string

	mu sync.Mutex
	// failFirst is how many attempts of each message are answered 503.
	failFirst int
	attempts  map[string]int
	// traceparents are the traceparent headers of each message's
	// attempts, in order ("" for an attempt without one).
	traceparents map[string][]string
	messages     map[string]Message // by webhook-id, the first accepted
	order        []string
	dupes        int
	bad          []string
}

// NewReceiver starts a receiver that verifies with secret; it is closed
// when the test ends.
func NewReceiver(tb testing.TB, secret string) *Receiver {
	tb.Helper()
	r := &Receiver{tb: tb, secret: secret, attempts: map[string]int{}, traceparents: map[string][]string{}, messages: map[string]Message{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	tb.Cleanup(r.srv.Close)
	return r
}

// URL is where to send.
func (r *Receiver) URL() string { return r.srv.URL + "/hook" }

// FailFirst makes the first n attempts of every message answer 503.
func (r *Receiver) FailFirst(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failFirst = n
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	id, err := signature.Verify(r.secret, req.Header, body, time.Now())
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.bad = append(r.bad, err.Error())
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	r.attempts[id]++
	r.traceparents[id] = append(r.traceparents[id], req.Header.Get("Traceparent"))
	if r.attempts[id] <= r.failFirst {
		http.Error(w, "not yet", http.StatusServiceUnavailable)
		return
	}
	if _, ok := r.messages[id]; ok {
		r.dupes++ // a receiver deduplicates: acknowledged, not processed again
		w.WriteHeader(http.StatusNoContent)
		return
	}
	m, err := decode(id, body)
	if err != nil {
		r.bad = append(r.bad, err.Error())
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.messages[id] = m
	r.order = append(r.order, id)
	w.WriteHeader(http.StatusNoContent)
}

func decode(id string, body []byte) (Message, error) {
	var env struct {
		Type webhooks.Event  `json:"type"`
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return Message{}, err
	}
	m := Message{ID: id, Type: env.Type, Body: body}
	var err error
	switch env.Type {
	case webhooks.LinkDeleted:
		m.Deleted = new(webhooks.DeletedData)
		err = json.Unmarshal(env.Data, m.Deleted)
	case webhooks.LinkClicked:
		var d webhooks.ClicksData
		err = json.Unmarshal(env.Data, &d)
		m.Clicks = d.Clicks
	default:
		m.Link = new(webhooks.LinkData)
		err = json.Unmarshal(env.Data, m.Link)
	}
	return m, err
}

// Messages returns the distinct messages received, in arrival order.
func (r *Receiver) Messages() []Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Message, len(r.order))
	for i, id := range r.order {
		out[i] = r.messages[id]
	}
	return out
}

// Attempts returns how many verified requests carried webhook-id id.
func (r *Receiver) Attempts(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.attempts[id]
}

// Traceparents returns the traceparent header of each verified attempt
// with webhook-id id, in order ("" where an attempt had none).
func (r *Receiver) Traceparents(id string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.traceparents[id]...)
}

// Duplicates is the verified, acknowledged requests of messages received
// before.
func (r *Receiver) Duplicates() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dupes
}

// Refused lists why requests were refused (bad signature, body).
func (r *Receiver) Refused() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.bad...)
}

// Clicks returns the distinct clicks received, by click ID, and how many
// clicks came in all (a click may come twice in batches of other IDs
// after a crash).
func (r *Receiver) Clicks() (map[string]webhooks.Click, int) {
	all := map[string]webhooks.Click{}
	n := 0
	for _, m := range r.Messages() {
		for _, c := range m.Clicks {
			all[c.ID] = c
			n++
		}
	}
	return all, n
}
