package deliver

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/shortify/shortify/internal/tracing"
	"github.com/shortify/shortify/webhooks"
	"github.com/shortify/shortify/webhooks/signature"
)

// Defaults of SenderConfig.
const (
	DefaultConcurrency = 16
	DefaultTimeout     = 10 * time.Second
	DefaultIdle        = 500 * time.Millisecond
	DefaultEndpointTTL = 5 * time.Second
	// recordTimeout bounds the write of an attempt's outcome, which is
	// made even while the sender stops.
	recordTimeout = 10 * time.Second
	// maxRetryAfter bounds the pause a receiver's Retry-After (on 429
	// and 503) can ask for: longer than the back-off, never more than
	// an hour.
	maxRetryAfter = time.Hour
	// maxErrorLen bounds the error kept with an attempt.
	maxErrorLen = 300
	// drainBody is how much of an answer's body is read (and thrown
	// away) so that its connection can be reused.
	drainBody = 64 << 10
)

// The outcomes of an attempt (the attempts_total metric's label).
const (
	outcomeDelivered = "delivered"
	outcomeRetrying  = "retrying"
	outcomeFailed    = "failed"
)

// SenderConfig configures a Sender.
type SenderConfig struct {
	Store webhooks.Store
	// Client sends the requests: safedial.Client in production, so that
	// an endpoint cannot reach private addresses. Redirects are not
	// followed (a 3xx is a failed attempt).
	Client *http.Client
	// Concurrency bounds the attempts under way (default
	// DefaultConcurrency).
	Concurrency int
	// Timeout bounds one attempt (default DefaultTimeout).
	Timeout time.Duration
	// Lease hides a claimed delivery from other senders (default three
	// Timeouts): a sender killed mid-attempt leaves it due again then.
	Lease time.Duration
	// Idle is the pause when nothing is due (default DefaultIdle); Kick
	// cuts it short.
	Idle time.Duration
	// EndpointTTL caches an endpoint's URL and secret (default
	// DefaultEndpointTTL).
	EndpointTTL time.Duration
	Metrics     *Metrics
	Logger      *slog.Logger
	// Now is the clock (default time.Now); Rand draws the back-off's
	// jitter in [0, 1) (default math/rand/v2).
	Now  func() time.Time
	Rand func() float64
	// Backoff is the retry schedule (default Backoff); tests shorten it.
	Backoff func(attempts int, r float64) (time.Duration, bool)
}

// Sender posts due deliveries: it claims them from the store (a lease,
// so that several deliverers share the work), sends each with the
// Standard Webhooks headers, and records the outcome with the next
// attempt's time (Backoff).
type Sender struct {
	cfg    SenderConfig
	client *http.Client
	kick   chan struct{}

	mu        sync.Mutex
	endpoints map[string]cachedEndpoint
}

type cachedEndpoint struct {
	ep      webhooks.Endpoint
	expires time.Time
}

// NewSender makes a sender.
func NewSender(cfg SenderConfig) (*Sender, error) {
	if cfg.Store == nil || cfg.Client == nil {
		return nil, errors.New("deliver: a sender needs a store and an HTTP client")
	}
	cfg.Concurrency = cmp.Or(cfg.Concurrency, DefaultConcurrency)
	cfg.Timeout = cmp.Or(cfg.Timeout, DefaultTimeout)
	cfg.Lease = cmp.Or(cfg.Lease, 3*cfg.Timeout)
	cfg.Idle = cmp.Or(cfg.Idle, DefaultIdle)
	cfg.EndpointTTL = cmp.Or(cfg.EndpointTTL, DefaultEndpointTTL)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Float64
	}
	if cfg.Backoff == nil {
		cfg.Backoff = Backoff
	}
	if cfg.Lease <= cfg.Timeout {
		return nil, fmt.Errorf("deliver: lease %v must exceed the attempt timeout %v", cfg.Lease, cfg.Timeout)
	}
	client := *cfg.Client
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Sender{cfg: cfg, client: &client, kick: make(chan struct{}, 1), endpoints: map[string]cachedEndpoint{}}, nil
}

// Kick tells the sender that deliveries were enqueued: it claims at
// once instead of after its idle pause.
func (s *Sender) Kick() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// Run sends until ctx is done, then waits for the attempts under way
// (cancelled with ctx: their deliveries are due again when their lease
// ends) and returns nil.
func (s *Sender) Run(ctx context.Context) error {
	slots := make(chan struct{}, s.cfg.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	for ctx.Err() == nil {
		free := cap(slots) - len(slots) // only this loop fills slots
		var ds []webhooks.Delivery
		// Claim for half the slots or more at once (one transaction
		// each): claiming a slot at a time as attempts end would make
		// the claims, not the receivers, the bound.
		if free > 0 && (free >= (cap(slots)+1)/2 || len(slots) == 0) {
			var err error
			ds, err = s.cfg.Store.Claim(ctx, s.cfg.Now(), s.cfg.Lease, free)
			if err != nil && ctx.Err() == nil {
				s.cfg.Logger.Warn("deliver: claim failed", "err", err)
			}
			s.cfg.Metrics.setClaimed(len(ds))
		}
		if len(ds) == 0 {
			s.pause(ctx)
			continue
		}
		for _, d := range fair(ds) {
			slots <- struct{}{}
			s.cfg.Metrics.addInFlight(1)
			wg.Go(func() {
				defer func() {
					<-slots
					s.cfg.Metrics.addInFlight(-1)
					s.Kick() // a slot is free
				}()
				s.attempt(ctx, d)
			})
		}
	}
	return nil
}

// pause waits Idle, a Kick, or ctx.
func (s *Sender) pause(ctx context.Context) {
	t := time.NewTimer(s.cfg.Idle)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-s.kick:
	case <-t.C:
	}
}

// fair orders claimed deliveries round-robin by endpoint, so that one
// endpoint's backlog does not take every slot before the others' turn.
func fair(ds []webhooks.Delivery) []webhooks.Delivery {
	var order []string
	by := map[string][]webhooks.Delivery{}
	for _, d := range ds {
		if _, ok := by[d.Endpoint]; !ok {
			order = append(order, d.Endpoint)
		}
		by[d.Endpoint] = append(by[d.Endpoint], d)
	}
	if len(order) == 1 {
		return ds
	}
	out := make([]webhooks.Delivery, 0, len(ds))
	for i := 0; len(out) < len(ds); i++ {
		for _, ep := range order {
			if q := by[ep]; i < len(q) {
				out = append(out, q[i])
			}
		}
	}
	return out
}

// attempt sends d once and records the outcome.
func (s *Sender) attempt(ctx context.Context, d webhooks.Delivery) {
	ep, err := s.endpoint(ctx, d.Workspace, d.Endpoint)
	if errors.Is(err, webhooks.ErrNotFound) {
		return // deleted: its deliveries went with it
	}
	if err != nil {
		if ctx.Err() == nil {
			s.cfg.Logger.Warn("deliver: cannot read endpoint", "endpoint", d.Endpoint, "err", err)
		}
		return // due again when the lease ends
	}
	start := s.cfg.Now()
	status, wait, err := s.post(ctx, ep, d)
	took := s.cfg.Now().Sub(start)
	if ctx.Err() != nil {
		return // stopping: not the endpoint's fault
	}
	s.cfg.Metrics.observeAttempt(took)
	a := webhooks.Attempt{At: start, Status: status}
	outcome := outcomeDelivered
	switch {
	case err == nil && status >= 200 && status < 300:
		s.cfg.Metrics.observeDelay(s.cfg.Now().Sub(d.CreatedAt))
	default:
		a.Err = errorText(status, err)
		if pause, ok := s.cfg.Backoff(d.Attempts+1, s.cfg.Rand()); ok {
			a.Next = s.cfg.Now().Add(max(pause, wait))
			outcome = outcomeRetrying
		} else {
			outcome = outcomeFailed
		}
	}
	s.cfg.Metrics.attempted(outcome)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if err := s.cfg.Store.Record(rctx, d, a); err != nil {
		// Due again when its lease ends: one attempt more than needed.
		s.cfg.Logger.Warn("deliver: cannot record an attempt", "delivery", d.ID, "err", err)
	}
}

// post sends d to ep's URL, signed, and returns the answer's status and
// the pause its Retry-After asks for (0: none).
func (s *Sender) post(ctx context.Context, ep webhooks.Endpoint, d webhooks.Delivery) (status int, wait time.Duration, err error) {
	ctx, span := startAttempt(ctx, ep, d) // tracing.go
	defer func() { endAttempt(span, status, err) }()
	key, err := signature.Key(ep.Secret)
	if err != nil {
		return 0, 0, err
	}
	actx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, ep.URL, bytes.NewReader(d.Payload))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Shortify-Webhooks/1")
	signature.SetHeaders(req.Header, key, d.ID, s.cfg.Now(), d.Payload)
	tracing.Inject(actx, req.Header) // the attempt's span, while tracing is on
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, drainBody))
	resp.Body.Close()
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		wait = retryAfter(resp.Header.Get("Retry-After"), s.cfg.Now())
	}
	return resp.StatusCode, wait, nil
}

// retryAfter is the pause a Retry-After header asks for (seconds or an
// HTTP date), at most maxRetryAfter; 0 when absent or malformed.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		d = time.Duration(min(max(n, 0), int64(maxRetryAfter/time.Second))) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}

// errorText is what went wrong with an attempt, for the delivery log.
func errorText(status int, err error) string {
	s := fmt.Sprintf("HTTP %d", status)
	if err != nil {
		s = err.Error()
	}
	if len(s) > maxErrorLen {
		s = s[:maxErrorLen]
	}
	return s
}

// endpoint returns the endpoint, cached for EndpointTTL.
func (s *Sender) endpoint(ctx context.Context, ws int64, id string) (webhooks.Endpoint, error) {
	now := s.cfg.Now()
	s.mu.Lock()
	c, ok := s.endpoints[id]
	s.mu.Unlock()
	if ok && now.Before(c.expires) {
		return c.ep, nil
	}
	ep, err := s.cfg.Store.Endpoint(ctx, ws, id)
	if err != nil {
		return webhooks.Endpoint{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.endpoints) >= subscribersMax {
		clear(s.endpoints)
	}
	s.endpoints[id] = cachedEndpoint{ep: ep, expires: now.Add(s.cfg.EndpointTTL)}
	return ep, nil
}
