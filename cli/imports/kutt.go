package imports

import (
	"bufio"
	"encoding/json"
	"fmt"
	"strings"
)

// Kutt's export is its API's answer of GET /api/v2/links ({"limit",
// "skip", "total", "data": [{"address", "target", "description",
// "domain", "link", "created_at", "expire_in", ...}]}), pages
// concatenated, or a CSV with those field names as its header (Kutt has
// no CSV export of its own: a `jq -r` of the API or a database export of
// its links table gives one).
var kuttColumns = []string{"address", "target", "description", "domain", "link", "createdat", "expirein"}

type kuttLink struct {
	Address     string          `json:"address"`
	Target      string          `json:"target"`
	Description *string         `json:"description"`
	Domain      *string         `json:"domain"`
	Link        json.RawMessage `json:"link"` // a URL string, or {"link", "url"} in Kutt 3
	CreatedAt   *string         `json:"created_at"`
	ExpireIn    *string         `json:"expire_in"`
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return strings.TrimSpace(*p)
}

// kuttShortURL reads the link field in either of its shapes.
func kuttShortURL(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var o struct {
		URL  string `json:"url"`
		Link string `json:"link"`
	}
	if json.Unmarshal(raw, &o) == nil {
		return cmpOr(o.URL, o.Link)
	}
	return ""
}

func kuttRecord(line int, l kuttLink, link, fallback string) (Record, error) {
	r := Record{Line: line, URL: strings.TrimSpace(l.Target), Alias: strings.TrimSpace(l.Address), Title: str(l.Description)}
	if bad := checkTarget(r.URL); bad != "" {
		return Record{}, &LineError{Line: line, Reason: bad}
	}
	if r.Alias == "" {
		return Record{}, &LineError{Line: line, Reason: "the address is empty"}
	}
	host, _ := splitShortURL(link)
	r.Domain = strings.ToLower(cmpOr(str(l.Domain), host, fallback))
	exp, err := parseTime(str(l.ExpireIn))
	if err != nil {
		return Record{}, &LineError{Line: line, Reason: fmt.Sprintf("expire_in: %v", err)}
	}
	r.ExpiresAt = exp
	r.CreatedAt, _ = parseTime(str(l.CreatedAt))
	r.SourceKey = sourceKey(Kutt, r.Domain, r.Alias, r.URL)
	return r, nil
}

type kuttJSON struct {
	s      *jsonStream
	domain string
}

func newKuttJSON(br *bufio.Reader, opts Options) Reader {
	return &kuttJSON{s: newJSONStream(br, "data"), domain: opts.SourceDomain}
}

func (k *kuttJSON) Next() (Record, error) {
	raw, line, err := k.s.next()
	if err != nil {
		return Record{}, err
	}
	var l kuttLink
	if err := decodeItem(raw, line, &l); err != nil {
		return Record{}, err
	}
	return kuttRecord(line, l, kuttShortURL(l.Link), k.domain)
}

type kuttCSV struct {
	t      *csvTable
	domain string
}

func newKuttCSV(br *bufio.Reader, opts Options) (Reader, error) {
	t, err := openCSVTable(br, kuttColumns, nil, []string{"address"}, []string{"target"})
	if err != nil {
		return nil, err
	}
	return &kuttCSV{t: t, domain: opts.SourceDomain}, nil
}

func (k *kuttCSV) Next() (Record, error) {
	if err := k.t.next(); err != nil {
		return Record{}, err
	}
	t := k.t
	get := func(n string) *string { v := t.get(n); return &v }
	l := kuttLink{Address: t.get("address"), Target: t.get("target"), Description: get("description"),
		Domain: get("domain"), CreatedAt: get("createdat"), ExpireIn: get("expirein")}
	return kuttRecord(t.line, l, t.get("link"), k.domain)
}
