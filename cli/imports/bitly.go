package imports

import (
	"bufio"
	"strings"
)

// Bitly's exports: the API's answer of GET /v4/groups/{group}/bitlinks
// ({"links": [{"link", "id", "long_url", "title", "tags",
// "custom_bitlinks", "created_at", ...}], "pagination": ...}), pages
// concatenated, or the CSV the web app exports, its columns found by name
// (see bitlyColumns). A Bitly link with custom back-halves is one record
// per address (the bitlink and each back-half), so that every short URL
// people have keeps working.

type bitlyLink struct {
	Link           string   `json:"link"`
	ID             string   `json:"id"`
	LongURL        string   `json:"long_url"`
	Title          string   `json:"title"`
	Tags           []string `json:"tags"`
	CustomBitlinks []string `json:"custom_bitlinks"`
	CreatedAt      string   `json:"created_at"`
}

// The names Bitly's CSV exports have given their columns, normalised.
var (
	bitlyLinkCols    = []string{"bitlink", "link", "shortlink", "shorturl", "id"}
	bitlyLongCols    = []string{"longurl", "originalurl", "destinationurl", "destination"}
	bitlyCustomCols  = []string{"custombackhalves", "custombackhalf", "custombitlinks", "custombitlink"}
	bitlyCreatedCols = []string{"created", "createdat", "datecreated", "creationdate", "createddate"}
	bitlyColumns     = concat(bitlyLinkCols, bitlyLongCols, bitlyCustomCols, bitlyCreatedCols, []string{"title", "tags"})
)

func concat(lists ...[]string) []string {
	var all []string
	for _, l := range lists {
		all = append(all, l...)
	}
	return all
}

// fanOut queues a link's records (one per address) and hands them out
// one at a time.
type fanOut struct{ queue []Record }

func (f *fanOut) pop() (Record, bool) {
	if len(f.queue) == 0 {
		return Record{}, false
	}
	r := f.queue[0]
	f.queue = f.queue[1:]
	return r, true
}

// bitlyRecords makes the records of one Bitly link: its bitlink, then
// each custom back-half.
func bitlyRecords(line int, l bitlyLink) ([]Record, error) {
	long := strings.TrimSpace(l.LongURL)
	if bad := checkTarget(long); bad != "" {
		return nil, &LineError{Line: line, Reason: bad}
	}
	created, _ := parseTime(l.CreatedAt) // informative only: a date the parser does not know is left out
	addrs := make([]string, 0, 1+len(l.CustomBitlinks))
	addrs = append(addrs, cmpOr(l.Link, l.ID))
	addrs = append(addrs, l.CustomBitlinks...)
	var recs []Record
	seen := map[string]bool{}
	for _, a := range addrs {
		domain, code := splitShortURL(a)
		if code == "" || seen[domain+"/"+code] {
			continue
		}
		seen[domain+"/"+code] = true
		recs = append(recs, Record{
			Line: line, URL: long, Alias: code, Title: strings.TrimSpace(l.Title), Tags: l.Tags,
			Domain: domain, CreatedAt: created, SourceKey: sourceKey(Bitly, domain, code, long),
		})
	}
	if len(recs) == 0 {
		return nil, &LineError{Line: line, Reason: "the link has no bitlink (link or id)"}
	}
	return recs, nil
}

func cmpOr(s ...string) string {
	for _, v := range s {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}

type bitlyJSON struct {
	s *jsonStream
	fanOut
}

func newBitlyJSON(br *bufio.Reader, _ Options) Reader {
	return &bitlyJSON{s: newJSONStream(br, "links")}
}

func (b *bitlyJSON) Next() (Record, error) {
	if r, ok := b.pop(); ok {
		return r, nil
	}
	raw, line, err := b.s.next()
	if err != nil {
		return Record{}, err
	}
	var l bitlyLink
	if err := decodeItem(raw, line, &l); err != nil {
		return Record{}, err
	}
	recs, err := bitlyRecords(line, l)
	if err != nil {
		return Record{}, err
	}
	b.queue = recs[1:]
	return recs[0], nil
}

type bitlyCSV struct {
	t *csvTable
	fanOut
}

func newBitlyCSV(br *bufio.Reader, _ Options) (Reader, error) {
	t, err := openCSVTable(br, bitlyColumns, nil, bitlyLinkCols, bitlyLongCols)
	if err != nil {
		return nil, err
	}
	return &bitlyCSV{t: t}, nil
}

func (b *bitlyCSV) Next() (Record, error) {
	if r, ok := b.pop(); ok {
		return r, nil
	}
	if err := b.t.next(); err != nil {
		return Record{}, err
	}
	t := b.t
	l := bitlyLink{
		Link:           t.get(bitlyLinkCols...),
		LongURL:        t.get(bitlyLongCols...),
		Title:          t.get("title"),
		Tags:           splitTags(t.get("tags"), "|,;"),
		CustomBitlinks: splitTags(t.get(bitlyCustomCols...), "|,; "),
		CreatedAt:      t.get(bitlyCreatedCols...),
	}
	recs, err := bitlyRecords(t.line, l)
	if err != nil {
		return Record{}, err
	}
	b.queue = recs[1:]
	return recs[0], nil
}
