package imports

import (
	"bufio"
	"fmt"
)

// The plain CSV: a header naming the columns (any order; others are
// ignored), url required, then alias (or code, as `shortify export`
// writes it), title, tags (separated by '|'), expires_at (RFC 3339) and
// domain (the Shortify domain the link goes on).
var plainColumns = []string{"url", "alias", "code", "title", "tags", "expiresat", "domain"}

type plainCSV struct{ t *csvTable }

func newPlainCSV(br *bufio.Reader) (Reader, error) {
	t, err := openCSVTable(br, plainColumns, nil, []string{"url"})
	if err != nil {
		return nil, err
	}
	return &plainCSV{t: t}, nil
}

func (p *plainCSV) Next() (Record, error) {
	if err := p.t.next(); err != nil {
		return Record{}, err
	}
	t := p.t
	r := Record{
		Line:   t.line,
		URL:    t.get("url"),
		Alias:  t.get("alias"),
		Title:  t.get("title"),
		Tags:   splitTags(t.get("tags"), "|"),
		Domain: t.get("domain"),
	}
	if r.Alias == "" {
		r.Alias = t.get("code")
	}
	if bad := checkTarget(r.URL); bad != "" {
		return Record{}, &LineError{Line: r.Line, Reason: bad}
	}
	exp, err := parseTime(t.get("expiresat"))
	if err != nil {
		return Record{}, &LineError{Line: r.Line, Reason: fmt.Sprintf("expires_at: %v", err)}
	}
	r.ExpiresAt = exp
	if c, err := parseTime(t.get("createdat")); err == nil {
		r.CreatedAt = c
	}
	r.SourceKey = sourceKey(CSV, r.Domain, r.Alias, r.URL)
	return r, nil
}
