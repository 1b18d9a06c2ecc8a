package ratelimit

import (
	"net/http"
	"strconv"
	"time"
)

// defaultPolicyName names a Limit without a Name in the header fields.
const defaultPolicyName = "default"

// WriteHeaders sets the rate-limit header fields of a response to a request
// that d decided under l (draft-ietf-httpapi-ratelimit-headers-11, whose
// fields are Structured Field Lists):
//
//	RateLimit-Policy: "default";q=20;w=2    q = Burst, w = Burst/Rate in seconds, rounded up
//	RateLimit: "default";r=19;t=1           r = Remaining, t = Reset in seconds, rounded up
//	Retry-After: 1                          refused requests only: RetryAfter, rounded up
//
// The policy says "Burst requests per Burst/Rate seconds", which is what a
// client can count on from a full bucket (GCRA then lets it send Rate more
// per second): a client that keeps to it is never refused. Seconds are
// rounded up so that a client that waits as told finds the quota back;
// rounding down would send it back a fraction of a second too early, to be
// refused again. For a refused request t equals Retry-After, as the draft
// asks (Retry-After no earlier than the end of the effective window).
func (d Decision) WriteHeaders(h http.Header, l Limit) {
	var nameBuf, buf [128]byte
	name := policyName(nameBuf[:0], l.Name)

	b := append(buf[:0], name...)
	b = append(b, ";q="...)
	b = strconv.AppendInt(b, int64(l.Burst), 10)
	b = append(b, ";w="...)
	b = strconv.AppendInt(b, max(1, ceilSeconds(l.window())), 10)
	h.Set("RateLimit-Policy", string(b))

	b = append(b[:0], name...)
	b = append(b, ";r="...)
	b = strconv.AppendInt(b, int64(d.Remaining), 10)
	b = append(b, ";t="...)
	b = strconv.AppendInt(b, ceilSeconds(d.Reset), 10)
	h.Set("RateLimit", string(b))

	if !d.Allowed {
		h.Set("Retry-After", strconv.FormatInt(max(1, ceilSeconds(d.RetryAfter)), 10))
	}
}

// policyName appends name as a Structured Field String to dst: quoted,
// with '"' and '\' escaped. A name that Validate refuses is replaced by the
// default rather than written out broken.
func policyName(dst []byte, name string) []byte {
	if name == "" || (Limit{Rate: 1, Burst: 1, Name: name}).Validate() != nil {
		name = defaultPolicyName
	}
	dst = append(dst, '"')
	for i := 0; i < len(name); i++ {
		if c := name[i]; c == '"' || c == '\\' {
			dst = append(dst, '\\')
		}
		dst = append(dst, name[i])
	}
	return append(dst, '"')
}

// ceilSeconds returns d in whole seconds, rounded up; 0 for d <= 0.
func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}
