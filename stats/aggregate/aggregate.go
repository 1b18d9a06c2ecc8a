// Package aggregate turns a batch of click events into the rows of the
// stats tables: clicks and a unique-visitor sketch per hour and per day,
// per link and human/bot, plus the roll-ups (the empty code and link ID
// 0): over all links (workspace 0) and over each workspace's links (its
// workspace ID), and in each row its clicks per value of each dimension
// (referrer host, country, device class, browser, operating system,
// redirect status, and for a link's rows the variant of a smart link the
// click went to), the row's DimCounts.
//
// The hot loop (Add) touches only the hourly row of the event's link: one
// map lookup, a sketch update and seven small counters. Daily rows and the
// roll-up are derived from the hourly rows when the batch is done (Rows),
// where there are far fewer rows than events. A Batch therefore costs
// memory per distinct link-hour in it, not per event.
package aggregate

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shortify/shortify/internal/clickevents"
	"github.com/shortify/shortify/internal/workspace"
	"github.com/shortify/shortify/stats/hll"
)

// Grain is a bucket size.
type Grain uint8

// The bucket sizes, hour and day (UTC).
const (
	Hour Grain = iota
	Day
)

// Seconds is the bucket's length in seconds.
func (g Grain) Seconds() int64 {
	if g == Day {
		return 86400
	}
	return 3600
}

// String names the grain as the table suffix does: hourly, daily.
func (g Grain) String() string {
	if g == Day {
		return "daily"
	}
	return "hourly"
}

// Dimension is one of the breakdowns of a row's DimCounts.
type Dimension uint8

// The dimensions, in the order Dimensions lists them.
const (
	Referrer Dimension = iota
	Country
	Device
	Browser
	OS
	Status
	// Variant is which of a smart link's targets the click went to, as
	// smartlink.Choice names it ("url", "rules[0]", "targets[1]"). Only
	// a link's rows count it: the roll-ups leave it out, as the rules[0]
	// of two links have nothing in common.
	Variant
	numDimensions
)

// Dimensions lists every dimension.
var Dimensions = []Dimension{Referrer, Country, Device, Browser, OS, Status, Variant}

var dimensionNames = [numDimensions]string{"referrer", "country", "device", "browser", "os", "status", "variant"}

// String is the dimension's name in the dimension column.
func (d Dimension) String() string { return dimensionNames[d] }

// Key identifies an aggregate row: a bucket, a link (or the roll-up) and
// human or bot traffic.
type Key struct {
	// Bucket is the bucket's start in Unix seconds (UTC).
	Bucket int64
	// Code is the short code, "" for the roll-up over all links.
	Code string
	// LinkID is the link's ID, 0 for the roll-up.
	LinkID int64
	// Workspace is the link's workspace; in a roll-up, the workspace
	// rolled up, or 0 for the roll-up over all links.
	Workspace int64
	// Bot separates crawler and program traffic from people's.
	Bot bool
}

// Time is the bucket's start.
func (k Key) Time() time.Time { return time.Unix(k.Bucket, 0).UTC() }

// cell is the clicks and visitors of one key.
type cell struct {
	clicks   int64
	visitors *hll.Sketch // nil while no visitor is known
}

func (c *cell) merge(o *cell) {
	c.clicks += o.clicks
	if o.visitors != nil {
		if c.visitors == nil {
			c.visitors = hll.New()
		}
		c.visitors.Merge(o.visitors)
	}
}

// linkKey finds the rows of links that have an ID without hashing the
// code: an integer key, the code compared on a hit (a code is its link's
// for life; links without an ID, or a code that differs, go through a map
// of whole keys).
type linkKey struct {
	bucket int64
	link   int64
	bot    bool
}

// rollupKey finds a roll-up row of Rows: workspace 0 is the one over all
// links.
type rollupKey struct {
	bucket, workspace int64
	grain             Grain
	bot               bool
}

// Batch aggregates events. It is not safe for concurrent use.
//
// The hourly rows of links are a slice indexed through a map of integer
// keys. Each row counts its dimension values in a small list of
// (dimension, value ID) counters, the values interned per consumer (the
// user agents' device, browser and OS together with the parse): an event
// costs no string hashing but of its user agent and referrer host. Reset
// keeps the maps' capacity and the interned values for the next batch.
type Batch struct {
	index  map[linkKey]int32
	byKey  map[Key]int32 // rows of links without an ID, or whose code differs
	cells  []cell
	dims   []cellDims // of cells[i]
	keys   []Key
	events int

	chunk     []entry // where newEntries cuts lists
	ids       map[string]uint32
	names     []string // interned values by ID
	agents    map[string]agentIDs
	countries [1 + 26*26]uint32 // 1 + ID of "" and of AA..ZZ; 0 unknown
	statuses  [600]uint32       // 1 + ID of the status text; 0 unknown
	choices   [256]uint32       // 1 + ID of the choice's name; 0 unknown
}

// NewBatch returns an empty batch.
func NewBatch() *Batch {
	return &Batch{index: make(map[linkKey]int32), byKey: make(map[Key]int32),
		ids: make(map[string]uint32), agents: make(map[string]agentIDs)}
}

// Reset empties the batch for reuse; the interned values and parsed user
// agents are kept, unless there are many.
func (b *Batch) Reset() {
	clear(b.index)
	clear(b.byKey)
	clear(b.cells) // drop the sketches, which Rows handed out
	clear(b.dims)
	b.cells = b.cells[:0]
	b.dims = b.dims[:0]
	b.keys = b.keys[:0]
	b.chunk = nil
	b.events = 0
	if len(b.names) > maxNames {
		b.forget()
	}
}

// Events is the number of events added since the last Reset.
func (b *Batch) Events() int { return b.events }

// statusText interns the decimal text of the statuses an event may carry.
var statusText = func() (t [600]string) {
	for i := range t {
		t[i] = strconv.Itoa(i)
	}
	return t
}()

// Add counts one click. An event is bot traffic when the edge flagged it
// or when its user agent is a known crawler or program. Add keeps none of
// e's strings (it copies those it keeps): they may be views into a buffer.
func (b *Batch) Add(e *clickevents.Event) {
	agent := b.agent(e.UserAgent)
	bucket := floor(e.Time.Unix(), 3600)
	bot := e.Bot || agent.bot
	ws := workspace.Of(e.Workspace)
	i := row(b.index, b.byKey, bucket, e.Code, e.LinkID, ws, bot, &b.keys, true)
	if int(i) == len(b.cells) {
		b.cells = append(b.cells, cell{})
		b.dims = append(b.dims, cellDims{})
	}
	c := &b.cells[i]
	c.clicks++
	if e.Visitor != 0 {
		if c.visitors == nil {
			c.visitors = hll.New()
		}
		c.visitors.Add(e.Visitor)
	}
	d := &b.dims[i]
	d.add(b, entryKey(Referrer, b.intern(ReferrerHost(e.Referrer))), 1)
	d.add(b, entryKey(Country, b.country(e.Country)), 1)
	d.add(b, entryKey(Device, agent.device), 1)
	d.add(b, entryKey(Browser, agent.browser), 1)
	d.add(b, entryKey(OS, agent.os), 1)
	d.add(b, entryKey(Status, b.status(e.Status)), 1)
	d.add(b, entryKey(Variant, b.choice(e.Choice)), 1)
	b.events++
}

// row returns the index of the row of (bucket, code, link, workspace,
// bot) in keys, appending its key when it is new, with a copy of code when
// own (code may be a view into a buffer).
func row(index map[linkKey]int32, byKey map[Key]int32, bucket int64, code string, link, ws int64, bot bool, keys *[]Key, own bool) int32 {
	clone := func(s string) string {
		if own {
			return strings.Clone(s)
		}
		return s
	}
	if link != 0 {
		lk := linkKey{bucket, link, bot}
		if i, ok := index[lk]; ok {
			if k := &(*keys)[i]; k.Code == code && k.Workspace == ws {
				return i
			}
		} else {
			i := int32(len(*keys))
			index[lk] = i
			*keys = append(*keys, Key{Bucket: bucket, Code: clone(code), LinkID: link, Workspace: ws, Bot: bot})
			return i
		}
	}
	k := Key{Bucket: bucket, Code: code, LinkID: link, Workspace: ws, Bot: bot}
	if i, ok := byKey[k]; ok {
		return i
	}
	i := int32(len(*keys))
	k.Code = clone(code)
	byKey[k] = i
	*keys = append(*keys, k)
	return i
}

// floor rounds a Unix time down to a multiple of width (times before 1970
// round down too).
func floor(t, width int64) int64 {
	r := t % width
	if r < 0 {
		r += width
	}
	return t - r
}

// Row is a row of clicks_hourly or clicks_daily.
type Row struct {
	Grain Grain
	Key
	Clicks int64
	// Visitors is the sketch of the row's visitor hashes, nil when no
	// event carried one.
	Visitors *hll.Sketch
	// Dims are the row's clicks per dimension value (the dims column).
	Dims DimCounts
}

// Rows returns the batch's rows: for both grains, the rows of each link,
// of the roll-up over all links and of each workspace's roll-up, each with its dimension counts. Order is
// unspecified. The sketches are the batch's own; Reset does not reuse
// them.
func (b *Batch) Rows() []Row {
	n := len(b.keys)
	keys := slices.Grow(slices.Clone(b.keys), 2*n)
	dims := slices.Grow(slices.Clone(b.dims), 2*n)
	grains := make([]Grain, n, 2*n)
	// Derived rows: links' days (by integer keys, as in Add), then the
	// roll-ups' hours and days (few): the instance's and the workspaces'.
	days := make(map[linkKey]int32, n)
	daysByKey := map[Key]int32{}
	rollups := map[rollupKey]int32{}
	cells := make([]cell, n, 2*n)
	copy(cells, b.cells)
	grow := func() int32 {
		for len(cells) < len(keys) {
			cells = append(cells, cell{})
			dims = append(dims, cellDims{})
			grains = append(grains, Day)
		}
		return int32(len(keys) - 1)
	}
	rollup := func(g Grain, bucket, ws int64, bot bool) int32 {
		rk := rollupKey{bucket, ws, g, bot}
		j, ok := rollups[rk]
		if !ok {
			keys = append(keys, Key{Bucket: bucket, Workspace: ws, Bot: bot})
			j = grow()
			grains[j] = g
			rollups[rk] = j
		}
		return j
	}
	for i := range n {
		k := b.keys[i]
		day := floor(k.Bucket, 86400)
		j := row(days, daysByKey, day, k.Code, k.LinkID, k.Workspace, k.Bot, &keys, false)
		grow()
		derived := [3]int32{j, rollup(Hour, k.Bucket, k.Workspace, k.Bot), rollup(Day, day, k.Workspace, k.Bot)}
		c := &b.cells[i]
		for _, j := range derived {
			cells[j].merge(c)
			d := &dims[j]
			for _, e := range b.dims[i].ents {
				if j != derived[0] && e.key>>dimShift == uint32(Variant) {
					continue // a link's own: not rolled up
				}
				d.add(b, e.key, e.n)
			}
		}
	}
	// The roll-ups over all links add up the workspaces' roll-ups: a
	// sketch merge per workspace-bucket, not one more per link-bucket
	// (which cost the ingest a third of its aggregation time).
	var perWorkspace []int32
	for rk, j := range rollups {
		if rk.workspace != 0 {
			perWorkspace = append(perWorkspace, j)
		}
	}
	slices.Sort(perWorkspace)
	for _, w := range perWorkspace {
		j := rollup(grains[w], keys[w].Bucket, 0, keys[w].Bot)
		cells[j].merge(&cells[w])
		for _, e := range dims[w].ents {
			dims[j].add(b, e.key, e.n)
		}
	}
	rows := make([]Row, len(keys))
	for i := range rows {
		rows[i] = Row{Grain: grains[i], Key: keys[i], Clicks: cells[i].clicks, Visitors: cells[i].visitors}
	}
	b.dimsOf(rows, dims)
	return rows
}
