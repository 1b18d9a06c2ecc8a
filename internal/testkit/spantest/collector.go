package spantest

import (
	"compress/gzip"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	"google.golang.org/protobuf/proto"

	"github.com/shortify/shortify/internal/tracing"
)

// Collector is an OTLP/HTTP trace receiver on a loopback port, as an
// OpenTelemetry collector or Jaeger would be: what a process exports
// with OTEL_TRACES_EXPORTER=otlp (Shortify's own provider, Caddy's
// tracing handler; in this process or a child) arrives here over the
// real exporter and protocol.
type Collector struct {
	srv *httptest.Server

	mu    sync.Mutex
	spans []Span
}

// Span is one span a Collector received, its IDs in hex.
type Span struct {
	Service  string // the resource's service.name
	Scope    string // the instrumentation scope
	Name     string
	TraceID  string
	SpanID   string
	ParentID string // "" for a root
	Attrs    map[string]string
	Links    []Link
}

// Link is a span's link to another span.
type Link struct{ TraceID, SpanID string }

// NewCollector starts a Collector, stopped when the test ends.
func NewCollector(tb testing.TB) *Collector {
	tb.Helper()
	c := &Collector{}
	c.srv = httptest.NewServer(http.HandlerFunc(c.serve))
	tb.Cleanup(c.srv.Close)
	return c
}

// URL is the receiver's traces endpoint (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT).
func (c *Collector) URL() string { return c.srv.URL + "/v1/traces" }

// Env is the environment that turns tracing on in a Shortify process and
// exports every span to c at once (a short batch delay, every trace
// sampled).
func (c *Collector) Env() []string {
	return []string{
		tracing.EnvSwitch + "=on",
		"OTEL_TRACES_EXPORTER=otlp",
		"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=http/protobuf",
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=" + c.URL(),
		"OTEL_TRACES_SAMPLER=always_on",
		"OTEL_BSP_SCHEDULE_DELAY=50",
	}
}

// Setenv sets Env in this test's process, for the providers built after
// it (tracing.Acquire's).
func (c *Collector) Setenv(t *testing.T) {
	t.Helper()
	for _, kv := range c.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

// Spans returns the spans received so far.
func (c *Collector) Spans() []Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Span(nil), c.spans...)
}

// Find returns the received spans for which match holds.
func (c *Collector) Find(match func(Span) bool) []Span {
	var out []Span
	for _, s := range c.Spans() {
		if match(s) {
			out = append(out, s)
		}
	}
	return out
}

// Wait polls until match holds for at least one received span, failing
// the test after within; it returns the spans that match.
func (c *Collector) Wait(tb testing.TB, what string, within time.Duration, match func(Span) bool) []Span {
	tb.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if found := c.Find(match); len(found) > 0 {
			return found
		}
		if time.Now().After(deadline) {
			tb.Fatalf("no span %s within %v; received:%s", what, within, c.Dump())
		}
		<-tick.C
	}
}

// Dump lists the received spans for a failure message.
func (c *Collector) Dump() string {
	var b strings.Builder
	for _, s := range c.Spans() {
		fmt.Fprintf(&b, "\n  %-40s trace %s span %s parent %-16s service %s scope %s", s.Name, s.TraceID, s.SpanID, s.ParentID, s.Service, s.Scope)
		for _, l := range s.Links {
			fmt.Fprintf(&b, "\n    link trace %s span %s", l.TraceID, l.SpanID)
		}
	}
	return b.String()
}

// serve takes one OTLP/HTTP export (protobuf, maybe gzipped).
func (c *Collector) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/traces" {
		http.Error(w, "POST /v1/traces only", http.StatusNotFound)
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		defer zr.Close()
		body = zr
	}
	data, err := io.ReadAll(io.LimitReader(body, 64<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var req coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(data, &req); err != nil {
		http.Error(w, "not an OTLP protobuf export: "+err.Error(), http.StatusBadRequest)
		return
	}
	var got []Span
	for _, rs := range req.GetResourceSpans() {
		service := attrs(rs.GetResource().GetAttributes())["service.name"]
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				sp := Span{
					Service: service, Scope: ss.GetScope().GetName(), Name: s.GetName(),
					TraceID: hex.EncodeToString(s.GetTraceId()), SpanID: hex.EncodeToString(s.GetSpanId()),
					ParentID: hex.EncodeToString(s.GetParentSpanId()), Attrs: attrs(s.GetAttributes()),
				}
				for _, l := range s.GetLinks() {
					sp.Links = append(sp.Links, Link{TraceID: hex.EncodeToString(l.GetTraceId()), SpanID: hex.EncodeToString(l.GetSpanId())})
				}
				got = append(got, sp)
			}
		}
	}
	c.mu.Lock()
	c.spans = append(c.spans, got...)
	c.mu.Unlock()
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

// attrs flattens OTLP attributes to strings.
func attrs(kvs []*commonpb.KeyValue) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		v := kv.GetValue()
		switch v.GetValue().(type) {
		case *commonpb.AnyValue_StringValue:
			m[kv.GetKey()] = v.GetStringValue()
		case *commonpb.AnyValue_IntValue:
			m[kv.GetKey()] = fmt.Sprint(v.GetIntValue())
		case *commonpb.AnyValue_BoolValue:
			m[kv.GetKey()] = fmt.Sprint(v.GetBoolValue())
		case *commonpb.AnyValue_DoubleValue:
			m[kv.GetKey()] = fmt.Sprint(v.GetDoubleValue())
		default:
			m[kv.GetKey()] = fmt.Sprint(v)
		}
	}
	return m
}
