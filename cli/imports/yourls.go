package imports

import (
	"bufio"
	"fmt"
	"strings"
)

// YOURLS keeps its links in the table yourls_url (the prefix is the
// installation's YOURLS_DB_PREFIX): keyword, url, title, timestamp, ip,
// clicks. Its exports: a SQL dump of that table (mysqldump or phpMyAdmin)
// and the CSV of export plugins, with or without a header, in that column
// order. YOURLS does not store its own domain: Options.SourceDomain names
// it in the source keys.
var yourlsColumns = []string{"keyword", "url", "title", "timestamp", "ip", "clicks"}

// yourlsTable matches the links table under any prefix ("yourls_url",
// "shorty_url", a schema-qualified "db.yourls_url") but not yourls_log or
// yourls_options.
func yourlsTable(name string) bool {
	name = strings.ToLower(name)
	if i := strings.LastIndexByte(name, '.'); i >= 0 {
		name = name[i+1:]
	}
	return name == "url" || strings.HasSuffix(name, "_url")
}

type yourlsSQL struct {
	d      *sqlDump
	domain string
}

func newYOURLSSQL(br *bufio.Reader, opts Options) Reader {
	return &yourlsSQL{d: newSQLDump(br, yourlsTable), domain: opts.SourceDomain}
}

func (y *yourlsSQL) Next() (Record, error) {
	row, err := y.d.next()
	if err != nil {
		return Record{}, err
	}
	if row.bad != "" {
		return Record{}, &LineError{Line: row.line, Reason: row.bad}
	}
	cols := row.cols
	if cols == nil {
		cols = yourlsColumns
	}
	if len(row.vals) != len(cols) {
		return Record{}, &LineError{Line: row.line, Reason: fmt.Sprintf("%d values for %d columns", len(row.vals), len(cols))}
	}
	get := func(name string) string {
		for i, c := range cols {
			if c == name && row.vals[i] != nil {
				return strings.TrimSpace(*row.vals[i])
			}
		}
		return ""
	}
	return yourlsRecord(row.line, y.domain, get)
}

func yourlsRecord(line int, domain string, get func(string) string) (Record, error) {
	r := Record{Line: line, URL: get("url"), Alias: get("keyword"), Title: get("title"), Domain: domain}
	if r.Alias == "" {
		return Record{}, &LineError{Line: line, Reason: "the keyword is empty"}
	}
	if bad := checkTarget(r.URL); bad != "" {
		return Record{}, &LineError{Line: line, Reason: bad}
	}
	r.CreatedAt, _ = parseTime(get("timestamp")) // informative only
	r.SourceKey = sourceKey(YOURLS, domain, r.Alias, r.URL)
	return r, nil
}

type yourlsCSV struct {
	t      *csvTable
	domain string
}

func newYOURLSCSV(br *bufio.Reader, opts Options) (Reader, error) {
	t, err := openCSVTable(br, yourlsColumns, yourlsColumns, []string{"keyword"}, []string{"url"})
	if err != nil {
		return nil, err
	}
	return &yourlsCSV{t: t, domain: opts.SourceDomain}, nil
}

func (y *yourlsCSV) Next() (Record, error) {
	if err := y.t.next(); err != nil {
		return Record{}, err
	}
	return yourlsRecord(y.t.line, y.domain, func(n string) string { return y.t.get(n) })
}
