package api

import (
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/idna"

	"github.com/shortify/shortify/internal/domainname"
)

// Granularity is the width of a time-series bucket.
type Granularity string

// The granularities: the two aggregate tables the ingest writes.
const (
	Hour Granularity = "hour"
	Day  Granularity = "day"
)

// Step is the bucket's length.
func (g Granularity) Step() time.Duration {
	if g == Hour {
		return time.Hour
	}
	return 24 * time.Hour
}

// Limits of a query.
const (
	// MaxBuckets bounds a series: 1,000 hours is about six weeks, 1,000
	// days almost three years; longer ranges ask for the coarser
	// granularity (or several calls).
	MaxBuckets = 1000
	// DefaultHourBuckets and DefaultDayBuckets are the range when neither
	// from nor to is given: the last day by hour, the last 30 days by day.
	DefaultHourBuckets = 24
	DefaultDayBuckets  = 30
	// DefaultLimit and MaxLimit bound top-N lists.
	DefaultLimit = 10
	MaxLimit     = 100
)

// Traffic selects human clicks, bot clicks or both for a ranking.
type Traffic string

// The traffic classes.
const (
	AllTraffic   Traffic = "all"
	HumanTraffic Traffic = "human"
	BotTraffic   Traffic = "bot"
)

// Dimensions are the dimensions of every link together and of each link,
// as the stats schema names them.
var Dimensions = []string{"referrer", "country", "device", "browser", "os", "status"}

// LinkDimensions are the dimensions of one link: Dimensions and the
// variant of a smart link that a click went to ("url", "rules[0]",
// "targets[1]"), which the roll-ups do not keep (the rules[0] of two links
// have nothing in common).
var LinkDimensions = append(slices.Clip(Dimensions), "variant")

// Query is a parsed, validated stats query. From and To are bucket
// boundaries in UTC, From < To, and the range holds at most MaxBuckets.
type Query struct {
	From, To    time.Time
	Granularity Granularity
	// Limit is the length of a top-N list.
	Limit int
	// Traffic ranks top-N lists by human clicks, bot clicks or all.
	Traffic Traffic
	// LinkID picks one link of a code (0: the link the code names now,
	// or else the latest link with statistics, the one with the highest
	// Snowflake ID).
	LinkID int64
	// Domain is the custom domain of a per-link route's link, in the
	// stored form (lower-case punycode, no port, no trailing dot); "" is
	// the instance's own host.
	Domain string
}

// Buckets is the number of buckets in the range.
func (q Query) Buckets() int { return int(q.To.Sub(q.From) / q.Granularity.Step()) }

// ParamError is a query parameter with an unacceptable value.
type ParamError struct {
	// Param names the parameter.
	Param string
	// Msg says what is wrong, in words a user can act on.
	Msg string
}

// Error implements error.
func (e *ParamError) Error() string { return e.Param + ": " + e.Msg }

// Parameter names.
const (
	paramFrom        = "from"
	paramTo          = "to"
	paramGranularity = "granularity"
	paramLimit       = "limit"
	paramTraffic     = "traffic"
	paramLinkID      = "link_id"
	paramDomain      = "domain"
)

// timeLayouts are accepted for from and to: an RFC 3339 time or a UTC
// date.
var timeLayouts = []string{time.RFC3339Nano, time.DateOnly}

// minTime and maxTime bound from and to: every store keeps them exactly
// (SQLite as Unix microseconds), and no statistics lie outside.
var (
	minTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(9000, 1, 1, 0, 0, 0, 0, time.UTC)
)

// ParseQuery reads the query parameters of a stats route from v (which
// holds only known parameters, each once). now is the clock for the
// ranges that end now.
//
// Dates are whole UTC days, inclusive at both ends: from=2026-11-20&to=
// 2026-11-20 is that one day. A time is an instant: from rounds down and to
// up to a bucket boundary, so any times are accepted. With neither, the
// range is the default span (24 hours by hour, 30 days by day) ending with
// the bucket that holds now; from alone ends there too, never in the
// future; to alone starts the default span before it. The answer says
// which range [from, to) it covers.
func ParseQuery(v url.Values, now time.Time) (Query, *ParamError) {
	q := Query{Granularity: Day, Limit: DefaultLimit, Traffic: AllTraffic}
	if s := v.Get(paramGranularity); s != "" {
		switch g := Granularity(s); g {
		case Hour, Day:
			q.Granularity = g
		default:
			return q, &ParamError{paramGranularity, fmt.Sprintf("granularity %q is neither hour nor day", s)}
		}
	}
	step := q.Granularity.Step()
	span := DefaultDayBuckets * step
	if q.Granularity == Hour {
		span = DefaultHourBuckets * step
	}
	from, fromSet, _, perr := parseTime(v, paramFrom)
	if perr != nil {
		return q, perr
	}
	to, toSet, toDate, perr := parseTime(v, paramTo)
	if perr != nil {
		return q, perr
	}
	if toDate {
		to = to.AddDate(0, 0, 1) // the day is in the range: it ends when the day does
	}
	// nowEnd is the end of the bucket that holds now.
	nowEnd := now.UTC().Truncate(step).Add(step)
	switch {
	case !toSet && !fromSet:
		to = nowEnd
		from = to.Add(-span)
	case !toSet:
		from, to = from.Truncate(step), nowEnd
		if !from.Before(to) {
			return q, &ParamError{paramFrom, fmt.Sprintf("from %s is after now: without to, the range ends with the current %s (give to as well for another end)",
				from.Format(time.RFC3339), q.Granularity)}
		}
	case !fromSet:
		to = ceil(to, step)
		from = to.Add(-span)
		if from.Before(minTime) {
			from = minTime // no statistics lie before; the stores keep no earlier time
		}
	default:
		from, to = from.Truncate(step), ceil(to, step)
		if !from.Before(to) {
			return q, &ParamError{paramTo, fmt.Sprintf("to %s is not after from %s: the range is empty (a date in to includes that whole day)",
				v.Get(paramTo), v.Get(paramFrom))}
		}
	}
	if n := to.Sub(from) / step; n > MaxBuckets {
		hint := "ask for a shorter range"
		if q.Granularity == Hour {
			hint += " or granularity=day"
		}
		if !toSet {
			hint += ", or give to as well: from alone ends now"
		}
		return q, &ParamError{paramFrom, fmt.Sprintf("the range holds %d %s buckets; at most %d (%s)", n, q.Granularity, MaxBuckets, hint)}
	}
	q.From, q.To = from, to
	if s := v.Get(paramLimit); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxLimit {
			return q, &ParamError{paramLimit, fmt.Sprintf("limit must be a number from 1 to %d", MaxLimit)}
		}
		q.Limit = n
	}
	if s := v.Get(paramTraffic); s != "" {
		switch t := Traffic(s); t {
		case AllTraffic, HumanTraffic, BotTraffic:
			q.Traffic = t
		default:
			return q, &ParamError{paramTraffic, fmt.Sprintf("traffic %q is none of all, human and bot", s)}
		}
	}
	if s := v.Get(paramLinkID); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n <= 0 || strings.HasPrefix(s, "+") {
			return q, &ParamError{paramLinkID, "link_id must be a link's ID, a positive decimal number (the id field of GET /api/v1/links/{code})"}
		}
		q.LinkID = n
	}
	if s := v.Get(paramDomain); s != "" {
		d, err := normalizeDomain(s)
		if err != nil {
			return q, &ParamError{paramDomain, fmt.Sprintf("domain %.100q is not a domain name (%v); give the link's custom domain, such as go.example.com, or leave domain out for the instance's own host", s, err)}
		}
		q.Domain = d
	}
	return q, nil
}

// normalizeDomain turns a domain as people write it (any case, Unicode,
// a trailing dot) into the form links store it in (domainname.Check).
func normalizeDomain(s string) (string, error) {
	d, err := idna.Lookup.ToASCII(strings.TrimSuffix(strings.TrimSpace(s), "."))
	if err != nil {
		return "", err
	}
	d = strings.ToLower(d)
	return d, domainname.Check(d)
}

// parseTime reads the time parameter name from v, if it is there; date
// tells that it was given as a date (a whole day), not a time.
func parseTime(v url.Values, name string) (t time.Time, set, date bool, perr *ParamError) {
	s := v.Get(name)
	if s == "" {
		return time.Time{}, false, false, nil
	}
	for _, layout := range timeLayouts {
		t, err := time.Parse(layout, s)
		if err != nil {
			continue
		}
		t = t.UTC()
		if t.Before(minTime) || t.After(maxTime) {
			return t, true, false, &ParamError{name, fmt.Sprintf("%s must lie between %s and %s", name, minTime.Format(time.DateOnly), maxTime.Format(time.DateOnly))}
		}
		return t, true, layout == time.DateOnly, nil
	}
	return time.Time{}, true, false, &ParamError{name, name + " must be an RFC 3339 time such as 2026-11-01T00:00:00Z or a date such as 2026-11-01 (UTC)"}
}

// ceil rounds t up to a multiple of step.
func ceil(t time.Time, step time.Duration) time.Time {
	f := t.Truncate(step)
	if f.Equal(t) {
		return f
	}
	return f.Add(step)
}

// validDimension reports whether d is one of Dimensions, or of
// LinkDimensions for a per-link route.
func validDimension(d string, perLink bool) bool {
	if perLink {
		return slices.Contains(LinkDimensions, d)
	}
	return slices.Contains(Dimensions, d)
}
