package caddymodule

import (
	"strings"

	"go.uber.org/zap"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/targeturl"
)

// The target gate: every link a load returns (from Redis or the store)
// passes targeturl's check once, when it enters the L1, before its URL can
// become a Location. The control plane checks targets when they are
// written, but the edge does not take that on trust: a Redis or a database
// row that someone else wrote (a poisoned cache, an injected row, an old
// row from before a rule) must never make the edge answer with a
// javascript:, data: or CRLF-split Location. An L1 hit pays nothing: the
// L1 only ever holds checked, encoded URLs.
//
// A refused target answers 410 Gone, like a disabled link: the link exists
// but will not redirect, and the body says no more than for a takedown. It
// is logged (with the code, never the URL: it may be an attack string) and
// counted in shortify_edge_refused_targets_total{tier}.

// targetPolicy is the edge's check: the control plane's rules that hold
// for every link (scheme http or https, a valid host, no credentials, no
// space or control character), with the largest max_url_length any
// control plane accepts. Own hosts and blocked domains are the control
// plane's to enforce: the edge does not know them.
var targetPolicy = targeturl.Policy{MaxLength: 32 << 10}

// gateTarget checks the target of l, loaded from tier ("l2" or "store"),
// and returns it as a Location value. When the target is refused it
// returns false, having logged and counted the refusal.
func (h *Handler) gateTarget(tier string, l linkstore.Link) (string, bool) {
	return h.gateURL(tier, l, l.URL)
}

// gateURL is gateTarget for any URL of l that may become a Location: its
// target, or one its smart options hold (smart.go), which pass the same
// check.
func (h *Handler) gateURL(tier string, l linkstore.Link, raw string) (string, bool) {
	u, err := targetPolicy.Check(raw)
	if err != nil {
		h.stats.refusedTarget(tier).Inc()
		if ce := h.l2log.Check(zap.WarnLevel, "refused a link whose target is not a safe http(s) URL; answering 410"); ce != nil {
			ce.Write(zap.String("code", l.Code), zap.Int64("link_id", l.ID), zap.String("tier", tier), zap.Error(err))
		}
		return "", false
	}
	return locationEncode(u), true
}

// locationEncode percent-encodes the bytes of u that may not appear in a
// URI (RFC 3986): non-ASCII bytes, and ASCII ones such as '"', '<', '>',
// '\', '^', '`', '{', '|', '}'. targeturl's normal form escapes the path
// and fragment but keeps the query's raw bytes (net/url does), and a
// Location header must be plain ASCII. Bytes that are already part of a
// URI, '%' included, are left alone, so encoding twice changes nothing.
// Spaces and control characters never get here (the check refuses them);
// they would be encoded likewise.
func locationEncode(u string) string {
	n := 0
	for i := 0; i < len(u); i++ {
		if !uriByte(u[i]) {
			n++
		}
	}
	if n == 0 {
		return u
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(u) + 2*n)
	for i := 0; i < len(u); i++ {
		c := u[i]
		if uriByte(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

// uriByte reports whether c may appear as is in a URI: an unreserved or
// reserved character (RFC 3986 section 2), or '%' of a percent-encoding.
func uriByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~:/?#[]@!$&'()*+,;=%", c) >= 0
}
