// Package aggtest makes click events for the stats tests and computes the
// rows they must produce the straightforward way: one event at a time,
// exact sets of visitors, no derivation of days from hours. The ingest and
// database tests compare what they stored against it.
package aggtest

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/shortify/shortify/internal/clickevents"
	"github.com/shortify/shortify/internal/smartlink"
	"github.com/shortify/shortify/internal/useragent"
	"github.com/shortify/shortify/internal/workspace"
	"github.com/shortify/shortify/stats/aggregate"
	"github.com/shortify/shortify/stats/hll"
)

// UserAgents is a mix of browsers, devices and bots.
var UserAgents = []string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
	"Mozilla/5.0 (iPad; CPU OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
	"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
	"curl/8.5.0",
	"",
	"something odd",
}

// Referrers is a mix of referrers, some of one host in several spellings.
var Referrers = []string{"", "https://www.google.com/search?q=x", "https://WWW.Google.com:443/", "http://news.ycombinator.com/item?id=1",
	"https://t.co/abc", "android-app://com.slack/", "not a url at all", "https://user:pw@example.org/p#f"}

// Countries is a mix of countries, "" unknown.
var Countries = []string{"", "US", "DE", "FR", "JP", "BR"}

// Statuses is a mix of served statuses.
var Statuses = []uint16{301, 302, 302, 307, 308, 410}

// Choices is a mix of smart-link choices (smartlink.Choice): mostly the
// link's url, some rules and variants of a split.
var Choices = []uint8{0, 0, 0, 1, 2, 64, 65}

// Link is a code, the ID of the link that has it and its workspace.
type Link struct {
	Code      string
	ID        int64
	Workspace int64
}

// Workspaces is the number of workspaces that Links spreads links over
// (IDs 1 to Workspaces).
const Workspaces = 3

// Links returns n links in workspaces 1 to Workspaces in turn; the last
// code is used by two links (a deleted link's alias reused), so that rows
// must be told apart by link ID.
func Links(n int) []Link {
	ls := make([]Link, n)
	for i := range ls {
		ls[i] = Link{Code: fmt.Sprintf("c%05d", i), ID: int64(1000 + i), Workspace: int64(1 + i%Workspaces)}
	}
	if n > 1 {
		ls[n-1].Code = ls[n-2].Code
	}
	return ls
}

// Events returns n events of the links between start and start+span,
// from a pool of visitors (so that visitors repeat), about a tenth of them
// flagged as bots by the edge.
func Events(rng *rand.Rand, n int, links []Link, start time.Time, span time.Duration, visitors int) []clickevents.Event {
	evs := make([]clickevents.Event, n)
	for i := range evs {
		l := links[rng.IntN(len(links))]
		var visitor uint64
		if rng.IntN(20) != 0 { // some unknown
			visitor = uint64(rng.IntN(visitors)+1) * 0x9e3779b97f4a7c15
		}
		evs[i] = clickevents.Event{
			Time:      start.Add(time.Duration(rng.Int64N(int64(span)))).Truncate(time.Millisecond).UTC(),
			Code:      l.Code,
			LinkID:    l.ID,
			Status:    Statuses[rng.IntN(len(Statuses))],
			Visitor:   visitor,
			Country:   Countries[rng.IntN(len(Countries))],
			Bot:       rng.IntN(10) == 0,
			UserAgent: UserAgents[rng.IntN(len(UserAgents))],
			Referrer:  Referrers[rng.IntN(len(Referrers))],
			Workspace: l.Workspace,
			Choice:    Choices[rng.IntN(len(Choices))],
		}
	}
	return evs
}

// RowKey identifies an aggregate row in Truth.
type RowKey struct {
	Grain aggregate.Grain
	aggregate.Key
}

// DimKey identifies a dimension row in Truth.
type DimKey struct {
	RowKey
	Dimension string
	Value     string
}

// Truth is what the stats tables must hold for a set of events.
type Truth struct {
	Clicks map[RowKey]int64
	// Visitors holds the exact visitor hashes of each row.
	Visitors map[RowKey]map[uint64]struct{}
	Dims     map[DimKey]int64
}

// Compute counts the events one at a time: each in its link's row, the
// roll-up over all links (workspace 0) and its workspace's roll-up (an
// event of workspace 0 counts as the default workspace's); the variant
// only in its link's rows.
func Compute(evs []clickevents.Event) *Truth {
	t := &Truth{Clicks: map[RowKey]int64{}, Visitors: map[RowKey]map[uint64]struct{}{}, Dims: map[DimKey]int64{}}
	for i := range evs {
		e := &evs[i]
		agent := useragent.Parse(e.UserAgent)
		bot := e.Bot || agent.IsBot()
		ws := workspace.Of(e.Workspace)
		for _, g := range []aggregate.Grain{aggregate.Hour, aggregate.Day} {
			bucket := e.Time.UTC().Truncate(time.Duration(g.Seconds()) * time.Second).Unix()
			for _, k := range []aggregate.Key{
				{Bucket: bucket, Code: e.Code, LinkID: e.LinkID, Workspace: ws, Bot: bot},
				{Bucket: bucket, Bot: bot},
				{Bucket: bucket, Workspace: ws, Bot: bot},
			} {
				rk := RowKey{g, k}
				t.Clicks[rk]++
				if e.Visitor != 0 {
					if t.Visitors[rk] == nil {
						t.Visitors[rk] = map[uint64]struct{}{}
					}
					t.Visitors[rk][e.Visitor] = struct{}{}
				}
				for dim, v := range map[string]string{
					"referrer": aggregate.ReferrerHost(e.Referrer),
					"country":  e.Country,
					"device":   agent.Device,
					"browser":  agent.Browser,
					"os":       agent.OS,
					"status":   strconv.Itoa(int(e.Status)),
				} {
					t.Dims[DimKey{rk, dim, v}]++
				}
				if k.Code != "" {
					t.Dims[DimKey{rk, "variant", smartlink.Choice(e.Choice).String()}]++
				}
			}
		}
	}
	return t
}

// Sketch returns the sketch of a row's exact visitors: the sketch the
// stored one must equal, as a sketch does not depend on the order or
// grouping of what was added.
func (t *Truth) Sketch(rk RowKey) *hll.Sketch {
	vs := t.Visitors[rk]
	if len(vs) == 0 {
		return nil
	}
	s := hll.New()
	for v := range vs {
		s.Add(v)
	}
	return s
}
