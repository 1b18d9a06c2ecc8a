package imports

import (
	"bufio"
	"fmt"
	"strings"
)

// Shlink's exports: its REST API's answer of GET /rest/v3/short-urls
// ({"shortUrls": {"data": [{"shortCode", "shortUrl", "longUrl", "title",
// "tags", "dateCreated", "domain", "meta": {"validUntil", ...}}],
// "pagination": ...}}), pages concatenated, or the CSV its web client
// exports (createdAt, domain, shortCode, shortUrl, longUrl, title, tags
// separated by '|', visits).
var shlinkColumns = []string{"createdat", "domain", "shortcode", "shorturl", "longurl", "title", "tags", "visits", "validuntil"}

type shlinkURL struct {
	ShortCode   string   `json:"shortCode"`
	ShortURL    string   `json:"shortUrl"`
	LongURL     string   `json:"longUrl"`
	Title       *string  `json:"title"`
	Tags        []string `json:"tags"`
	DateCreated string   `json:"dateCreated"`
	Domain      *string  `json:"domain"`
	Meta        struct {
		ValidUntil *string `json:"validUntil"`
	} `json:"meta"`
}

func shlinkRecord(line int, u shlinkURL, fallback string) (Record, error) {
	r := Record{Line: line, URL: strings.TrimSpace(u.LongURL), Alias: strings.TrimSpace(u.ShortCode), Title: str(u.Title), Tags: u.Tags}
	host, code := splitShortURL(u.ShortURL)
	if r.Alias == "" {
		r.Alias = code
	}
	if bad := checkTarget(r.URL); bad != "" {
		return Record{}, &LineError{Line: line, Reason: bad}
	}
	if r.Alias == "" {
		return Record{}, &LineError{Line: line, Reason: "the short code is empty"}
	}
	r.Domain = strings.ToLower(cmpOr(str(u.Domain), host, fallback))
	exp, err := parseTime(str(u.Meta.ValidUntil))
	if err != nil {
		return Record{}, &LineError{Line: line, Reason: fmt.Sprintf("validUntil: %v", err)}
	}
	r.ExpiresAt = exp
	r.CreatedAt, _ = parseTime(u.DateCreated)
	r.SourceKey = sourceKey(Shlink, r.Domain, r.Alias, r.URL)
	return r, nil
}

type shlinkJSON struct {
	s      *jsonStream
	domain string
}

func newShlinkJSON(br *bufio.Reader, opts Options) Reader {
	return &shlinkJSON{s: newJSONStream(br, "shortUrls", "data"), domain: opts.SourceDomain}
}

func (s *shlinkJSON) Next() (Record, error) {
	raw, line, err := s.s.next()
	if err != nil {
		return Record{}, err
	}
	var u shlinkURL
	if err := decodeItem(raw, line, &u); err != nil {
		return Record{}, err
	}
	return shlinkRecord(line, u, s.domain)
}

type shlinkCSV struct {
	t      *csvTable
	domain string
}

func newShlinkCSV(br *bufio.Reader, opts Options) (Reader, error) {
	t, err := openCSVTable(br, shlinkColumns, nil, []string{"shortcode", "shorturl"}, []string{"longurl"})
	if err != nil {
		return nil, err
	}
	return &shlinkCSV{t: t, domain: opts.SourceDomain}, nil
}

func (s *shlinkCSV) Next() (Record, error) {
	if err := s.t.next(); err != nil {
		return Record{}, err
	}
	t := s.t
	title, domain, until := t.get("title"), t.get("domain"), t.get("validuntil")
	u := shlinkURL{ShortCode: t.get("shortcode"), ShortURL: t.get("shorturl"), LongURL: t.get("longurl"),
		Title: &title, Tags: splitTags(t.get("tags"), "|"), DateCreated: t.get("createdat"), Domain: &domain}
	u.Meta.ValidUntil = &until
	return shlinkRecord(t.line, u, s.domain)
}
