// Package aggregate turns a batch of click events into the rows of the
// stats tables: clicks and a unique-visitor sketch per hour and per day,
// per link and human/bot, plus the roll-up over all links (the empty code
// and link ID 0), and clicks per value of each dimension (referrer host, country,
// device class, browser, operating system, redirect status).
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

// Dimension is one of the breakdowns of the *_dims tables.
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

// dimValue is a dimension and one of its values.
type dimValue struct {
	dim   Dimension
	value string
}

// cell is the aggregate of one key: the row of clicks_hourly or
// clicks_daily and its dimension counters.
type cell struct {
	clicks   int64
	visitors *hll.Sketch // nil while no visitor is known
	dims     map[dimValue]int64
}

func (c *cell) merge(o *cell) {
	c.clicks += o.clicks
	if o.visitors != nil {
		if c.visitors == nil {
			c.visitors = hll.New()
		}
		c.visitors.Merge(o.visitors)
	}
	if c.dims == nil {
		c.dims = make(map[dimValue]int64, len(o.dims))
	}
	for dv, n := range o.dims {
		c.dims[dv] += n
	}
}

// Batch aggregates events. It is not safe for concurrent use.
type Batch struct {
	hourly map[Key]*cell
	events int
	ua     useragent.Cache
}

// NewBatch returns an empty batch.
func NewBatch() *Batch {
	return &Batch{hourly: make(map[Key]*cell)}
}

// Reset empties the batch for reuse; the user-agent cache is kept.
func (b *Batch) Reset() {
	clear(b.hourly)
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
	c := b.hourly[k]
	if c == nil {
		c = &cell{dims: make(map[dimValue]int64, 8)}
		b.hourly[k] = c
	}
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
	c.dims[dimValue{Referrer, ReferrerHost(e.Referrer)}]++
	c.dims[dimValue{Country, e.Country}]++
	c.dims[dimValue{Device, agent.Device}]++
	c.dims[dimValue{Browser, agent.Browser}]++
	c.dims[dimValue{OS, agent.OS}]++
	c.dims[dimValue{Status, status}]++
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
}

// DimRow is a row of clicks_hourly_dims or clicks_daily_dims.
type DimRow struct {
	Grain Grain
	Key
	Dimension Dimension
	Value     string
	Clicks    int64
}

// Rows returns the batch's rows: for both grains, the rows of each link
// and of the roll-up, and their dimension rows. Order is unspecified. The
// sketches are the batch's own; Reset does not reuse them.
func (b *Batch) Rows() ([]Row, []DimRow) {
	cells := make(map[Row]*cell) // keyed by grain and key; Clicks, Visitors unset
	add := func(g Grain, k Key, c *cell) {
		rk := Row{Grain: g, Key: k}
		dst := cells[rk]
		if dst == nil {
			dst = &cell{}
			cells[rk] = dst
		}
		dst.merge(c)
	}
	for k, c := range b.hourly {
		cells[Row{Grain: Hour, Key: k}] = c // unique: a link's hourly row is only this cell
		day := k
		day.Bucket = floor(k.Bucket, 86400)
		add(Day, day, c)
		roll := Key{Bucket: k.Bucket, Bot: k.Bot}
		add(Hour, roll, c)
		roll.Bucket = day.Bucket
		add(Day, roll, c)
	}
	rows := make([]Row, 0, len(cells))
	var dims []DimRow
	for rk, c := range cells {
		rk.Clicks, rk.Visitors = c.clicks, c.visitors
		rows = append(rows, rk)
		for dv, n := range c.dims {
			dims = append(dims, DimRow{Grain: rk.Grain, Key: rk.Key, Dimension: dv.dim, Value: dv.value, Clicks: n})
		}
	}
	return rows, dims
}
