package aggregate

import (
	"cmp"
	"slices"
	"strings"

	"github.com/shortify/shortify/internal/smartlink"
	"github.com/shortify/shortify/internal/useragent"
)

// entry is the clicks of one dimension value in a cell: key is the
// dimension (top 3 bits) and the value's interned ID (the rest).
type entry struct {
	key uint32
	n   uint32 // a batch's clicks fit: far fewer than 2^32 events
}

const (
	dimShift = 29
	idMask   = 1<<dimShift - 1
)

func entryKey(d Dimension, id uint32) uint32 { return uint32(d)<<dimShift | id }

// denseAfter is the number of entries past which a cell finds its entries
// through an index by key instead of a linear search: most link-hours
// have a few values per dimension (a linear search over a cache line or
// two), the roll-ups and hot links hundreds.
const denseAfter = 32

// entryChunk is how many entries newEntries carves out of one allocation.
const entryChunk = 1 << 14

// cellDims are a cell's dimension counters.
type cellDims struct {
	ents []entry
	// pos[key's slot] is 1 + the entry's index, once the cell has more
	// than denseAfter entries; slot is id*numDimensions + dimension.
	pos []int32
}

// add counts n clicks of key.
func (c *cellDims) add(b *Batch, key uint32, n uint32) {
	if c.pos == nil {
		for i := range c.ents {
			if c.ents[i].key == key {
				c.ents[i].n += n
				return
			}
		}
		if c.ents == nil {
			c.ents = b.newEntries()
		}
		c.ents = append(c.ents, entry{key, n})
		if len(c.ents) > denseAfter {
			c.index(b)
		}
		return
	}
	s := slot(key)
	if s >= len(c.pos) {
		c.pos = append(c.pos, make([]int32, b.slots()-len(c.pos))...)
	}
	if p := c.pos[s]; p != 0 {
		c.ents[p-1].n += n
		return
	}
	c.ents = append(c.ents, entry{key, n})
	c.pos[s] = int32(len(c.ents))
}

// index switches the cell to finding its entries through pos.
func (c *cellDims) index(b *Batch) {
	c.pos = make([]int32, b.slots())
	for i, e := range c.ents {
		c.pos[slot(e.key)] = int32(i + 1)
	}
}

func slot(key uint32) int {
	return int(key&idMask)*int(numDimensions) + int(key>>dimShift)
}

// newEntries returns an empty slice with room for a small cell's entries,
// cut from a shared chunk: one allocation for many cells. A cell that
// outgrows it moves to an array of its own (append).
func (b *Batch) newEntries() []entry {
	const per = 8
	if len(b.chunk)+per > cap(b.chunk) {
		b.chunk = make([]entry, 0, entryChunk)
	}
	n := len(b.chunk)
	b.chunk = b.chunk[:n+per]
	return b.chunk[n : n : n+per]
}

// slots is the length of a pos array covering every interned value.
func (b *Batch) slots() int { return (len(b.names) + 64) * int(numDimensions) }

// agentIDs are a user agent's bot flag and interned device, browser and
// OS.
type agentIDs struct {
	bot                 bool
	device, browser, os uint32
}

// maxAgents bounds the user-agent cache; it starts over when full, which
// costs one parse per header again and never unbounded memory.
const maxAgents = 4096

// maxNames bounds the interned values kept from batch to batch: past it,
// Reset forgets them (and the cached user agents, which refer to them).
const maxNames = 1 << 15

// intern returns the ID of s, adding a copy of it when new (s may be a
// view into a buffer that is reused).
func (b *Batch) intern(s string) uint32 {
	if id, ok := b.ids[s]; ok {
		return id
	}
	s = strings.Clone(s)
	id := uint32(len(b.names))
	b.names = append(b.names, s)
	b.ids[s] = id
	return id
}

// agent returns the parsed and interned user agent ua.
func (b *Batch) agent(ua string) agentIDs {
	if a, ok := b.agents[ua]; ok {
		return a
	}
	p := useragent.Parse(ua)
	a := agentIDs{bot: p.IsBot(), device: b.intern(p.Device), browser: b.intern(p.Browser), os: b.intern(p.OS)}
	if len(b.agents) >= maxAgents {
		clear(b.agents)
	}
	b.agents[strings.Clone(ua)] = a
	return a
}

// country returns the ID of an ISO country code (or "") through a table
// of the two-letter codes, without hashing.
func (b *Batch) country(c string) uint32 {
	if len(c) == 2 && c[0]-'A' < 26 && c[1]-'A' < 26 {
		i := 1 + int(c[0]-'A')*26 + int(c[1]-'A')
		if id := b.countries[i]; id != 0 {
			return id - 1
		}
		id := b.intern(c)
		b.countries[i] = id + 1
		return id
	}
	if c == "" {
		if id := b.countries[0]; id != 0 {
			return id - 1
		}
		id := b.intern(c)
		b.countries[0] = id + 1
		return id
	}
	return b.intern(c)
}

// status returns the ID of a status's decimal text.
func (b *Batch) status(s uint16) uint32 {
	if int(s) >= len(b.statuses) {
		return b.intern("")
	}
	if id := b.statuses[s]; id != 0 {
		return id - 1
	}
	id := b.intern(statusText[s])
	b.statuses[s] = id + 1
	return id
}

// choice returns the ID of a smart link's choice's name.
func (b *Batch) choice(c uint8) uint32 {
	if id := b.choices[c]; id != 0 {
		return id - 1
	}
	id := b.intern(smartlink.Choice(c).String())
	b.choices[c] = id + 1
	return id
}

// forget drops the interned values and everything that refers to them.
func (b *Batch) forget() {
	clear(b.ids)
	clear(b.agents)
	b.names = b.names[:0]
	b.countries = [1 + 26*26]uint32{}
	b.statuses = [600]uint32{}
	b.choices = [256]uint32{}
}

// dimsOf turns the entries of every row into its DimCounts, each list
// sorted by value, all of them cut from one array.
func (b *Batch) dimsOf(rows []Row, cells []cellDims) {
	// rank orders the interned values bytewise, so that entries sort by
	// integers.
	order := make([]uint32, len(b.names))
	for i := range order {
		order[i] = uint32(i)
	}
	slices.SortFunc(order, func(x, y uint32) int { return strings.Compare(b.names[x], b.names[y]) })
	rank := make([]uint32, len(b.names))
	for r, id := range order {
		rank[id] = uint32(r)
	}
	total := 0
	for i := range cells {
		total += len(cells[i].ents)
	}
	backing := make([]ValueCount, total)
	off := 0
	var sorted []entry // a row's entries keyed by rank, in order
	for i := range cells {
		sorted = sorted[:0]
		for _, e := range cells[i].ents {
			sorted = append(sorted, entry{e.key&^idMask | rank[e.key&idMask], e.n})
		}
		slices.SortFunc(sorted, func(x, y entry) int { return cmp.Compare(x.key, y.key) })
		d := &rows[i].Dims
		start := off
		for j, e := range sorted {
			backing[off] = ValueCount{Value: b.names[order[e.key&idMask]], Clicks: int64(e.n)}
			off++
			if j == len(sorted)-1 || sorted[j+1].key>>dimShift != e.key>>dimShift {
				d[e.key>>dimShift] = backing[start:off:off]
				start = off
			}
		}
	}
}
