// Package aggregate turns a batch of click events into the rows of the
// stats tables: clicks and a unique-visitor sketch per hour and per day,
// per link and human/bot, plus the roll-up over all links (the empty code
// and link ID 0), and in each row its clicks per value of each dimension
// (referrer host, country, device class, browser, operating system,
// redirect status), the row's DimCounts.
//
// The hot loop (Add) touches only the hourly row of the event's link: one
// map lookup, a sketch update and six small counters. Daily rows and the
// roll-up are derived from the hourly rows when the batch is done (Rows),
// where there are far fewer rows than events. A Batch therefore costs
// memory per distinct link-hour in it, not per event.
package aggregate

import (
	"strconv"
	"time"

	"github.com/shortify/shortify/internal/clickevents"
	"github.com/shortify/shortify/stats/hll"
	"github.com/shortify/shortify/stats/useragent"
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
	numDimensions
)

// Dimensions lists every dimension.
var Dimensions = []Dimension{Referrer, Country, Device, Browser, OS, Status}

var dimensionNames = [numDimensions]string{"referrer", "country", "device", "browser", "os", "status"}

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

// dimKey is a dimension value of the row cells[row].
type dimKey struct {
	row   int32
	dim   Dimension
	value string
}

// Batch aggregates events. It is not safe for concurrent use.
//
// The hourly rows of links are a slice indexed through a map of keys, and
// the dimension counters of all of them one flat map: a map per row would
// cost an allocation and a rehash or two per link-hour. Reset keeps the
// maps' capacity for the next batch.
type Batch struct {
	index  map[Key]int32
	cells  []cell
	keys   []Key
	dims   map[dimKey]int64
	events int
	ua     useragent.Cache
}

// NewBatch returns an empty batch.
func NewBatch() *Batch {
	return &Batch{index: make(map[Key]int32), dims: make(map[dimKey]int64)}
}

// Reset empties the batch for reuse; the user-agent cache is kept.
func (b *Batch) Reset() {
	clear(b.index)
	clear(b.dims)
	b.cells = b.cells[:0]
	b.keys = b.keys[:0]
	b.events = 0
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
// or when its user agent is a known crawler or program.
func (b *Batch) Add(e *clickevents.Event) {
	agent := b.ua.Parse(e.UserAgent)
	k := Key{
		Bucket: floor(e.Time.Unix(), 3600),
		Code:   e.Code,
		LinkID: e.LinkID,
		Bot:    e.Bot || agent.IsBot(),
	}
	i, ok := b.index[k]
	if !ok {
		i = int32(len(b.cells))
		b.index[k] = i
		b.cells = append(b.cells, cell{})
		b.keys = append(b.keys, k)
	}
	c := &b.cells[i]
	c.clicks++
	if e.Visitor != 0 {
		if c.visitors == nil {
			c.visitors = hll.New()
		}
		c.visitors.Add(e.Visitor)
	}
	status := ""
	if int(e.Status) < len(statusText) {
		status = statusText[e.Status]
	}
	b.dims[dimKey{i, Referrer, ReferrerHost(e.Referrer)}]++
	b.dims[dimKey{i, Country, e.Country}]++
	b.dims[dimKey{i, Device, agent.Device}]++
	b.dims[dimKey{i, Browser, agent.Browser}]++
	b.dims[dimKey{i, OS, agent.OS}]++
	b.dims[dimKey{i, Status, status}]++
	b.events++
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

// Rows returns the batch's rows: for both grains, the rows of each link
// and of the roll-up, each with its dimension counts. Order is
// unspecified. The sketches are the batch's own; Reset does not reuse
// them.
func (b *Batch) Rows() []Row {
	rows := make([]Row, len(b.keys), 4*len(b.keys))
	// derived[i] lists the rows that hourly row i adds to: its link's day,
	// the roll-up's hour and day.
	derived := make([][3]int32, len(b.keys))
	type grainKey struct {
		g Grain
		k Key
	}
	at := make(map[grainKey]int32, 2*len(b.keys)) // derived rows by grain and key
	find := func(g Grain, k Key) int32 {
		rk := grainKey{g, k}
		j, ok := at[rk]
		if !ok {
			j = int32(len(rows))
			at[rk] = j
			rows = append(rows, Row{Grain: g, Key: k})
		}
		return j
	}
	for i, k := range b.keys {
		c := &b.cells[i]
		rows[i] = Row{Grain: Hour, Key: k, Clicks: c.clicks, Visitors: c.visitors}
		day := floor(k.Bucket, 86400)
		derived[i] = [3]int32{
			find(Day, Key{Bucket: day, Code: k.Code, LinkID: k.LinkID, Bot: k.Bot}),
			find(Hour, Key{Bucket: k.Bucket, Bot: k.Bot}),
			find(Day, Key{Bucket: day, Bot: k.Bot}),
		}
		for _, j := range derived[i] {
			r := &rows[j]
			tmp := cell{clicks: r.Clicks, visitors: r.Visitors}
			tmp.merge(c)
			r.Clicks, r.Visitors = tmp.clicks, tmp.visitors
		}
	}
	sums := make(map[dimKey]int64, len(b.dims))
	for dk, n := range b.dims {
		for _, j := range derived[dk.row] {
			sums[dimKey{j, dk.dim, dk.value}] += n
		}
	}
	// Every row's lists share one array, each cut to the length it will
	// have: no list grows by appends.
	counts := make([]int32, len(rows)*int(numDimensions))
	for dk := range b.dims {
		counts[int(dk.row)*int(numDimensions)+int(dk.dim)]++
	}
	for dk := range sums {
		counts[int(dk.row)*int(numDimensions)+int(dk.dim)]++
	}
	backing := make([]ValueCount, len(b.dims)+len(sums))
	off := 0
	for i := range rows {
		for d := range rows[i].Dims {
			n := int(counts[i*int(numDimensions)+d])
			rows[i].Dims[d] = backing[off : off : off+n]
			off += n
		}
	}
	for dk, n := range b.dims {
		d := &rows[dk.row].Dims[dk.dim]
		*d = append(*d, ValueCount{Value: dk.value, Clicks: n})
	}
	for dk, n := range sums {
		d := &rows[dk.row].Dims[dk.dim]
		*d = append(*d, ValueCount{Value: dk.value, Clicks: n})
	}
	for i := range rows {
		sortDims(&rows[i].Dims)
	}
	return rows
}
