package linkstore

// This file derives and checks column values in Go, once for both stores
// (pgstore and sqlitestore), so that they accept the same links, store
// the same hosts and read the same bounds from a ListQuery.

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/shortify/shortify/internal/domainname"
	"github.com/shortify/shortify/internal/smartlink"
)

// MaxListLimit is the largest ListQuery.Limit; DefaultListLimit is the
// limit of a ListQuery whose Limit is 0.
const (
	MaxListLimit     = 1000
	DefaultListLimit = 100
)

// Validate checks l as the stores do before they store it: a code and a
// URL that are not empty, valid UTF-8 and free of NUL bytes (what a
// PostgreSQL text value cannot hold; SQLite could, but the stores accept
// the same links), and a Status of 0, 301, 302, 307 or 308 (the schema's
// CHECK). Checking in Go lets a batch refuse one link without failing the
// statement that carries the others. The error wraps ErrInvalidLink.
func (l Link) Validate() error {
	if l.Code == "" {
		return invalidLink(errors.New("empty code"))
	}
	if err := validText("code", l.Code); err != nil {
		return invalidLink(err)
	}
	if err := validURL(l.URL); err != nil {
		return invalidLink(err)
	}
	if l.WorkspaceID < 0 {
		return invalidLink(fmt.Errorf("workspace ID %d is negative", l.WorkspaceID))
	}
	if err := ValidateDomain(l.Domain); err != nil {
		return err
	}
	if err := l.Smart.Validate(); err != nil {
		return invalidLink(err)
	}
	if err := CheckOrganize(&l.Title, &l.Notes, &l.Tags); err != nil {
		return invalidLink(err)
	}
	if l.ExternalID != "" {
		if err := ValidateExternalID(l.ExternalID); err != nil {
			return invalidLink(err)
		}
	}
	return invalidLink(validStatus(l.Status))
}

// ValidateDomain checks a link's domain as the stores take it: "" (the
// instance's own host), or a domain name in the stored form
// (domainname.Check: lower-case punycode, without port or trailing dot).
// The stores compare domains byte by byte, so a domain in another form
// ("Example.com", "example.com.") would name another, unreachable link.
// The error wraps ErrInvalidLink.
func ValidateDomain(d string) error {
	if d == "" {
		return nil
	}
	return invalidLink(domainname.Check(d))
}

// IsZero reports whether u sets no field: the stores read the link
// instead of updating it.
func (u Update) IsZero() bool {
	return u.URL == nil && u.Status == nil && u.ExpiresAt == nil && u.Disabled == nil && u.Smart == nil &&
		u.Title == nil && u.Tags == nil && u.Notes == nil && u.ExternalID == nil
}

// Validate checks the fields that u sets as Link.Validate checks them:
// the URL, then the status. The error wraps ErrInvalidLink.
func (u Update) Validate() error {
	if u.URL != nil {
		if err := validURL(*u.URL); err != nil {
			return invalidLink(err)
		}
	}
	if u.Smart != nil {
		if err := u.Smart.Validate(); err != nil {
			return invalidLink(err)
		}
	}
	if err := CheckOrganize(u.Title, u.Notes, u.Tags); err != nil {
		return invalidLink(err)
	}
	if u.ExternalID != nil && *u.ExternalID != "" {
		if err := ValidateExternalID(*u.ExternalID); err != nil {
			return invalidLink(err)
		}
	}
	if u.Status != nil {
		return invalidLink(validStatus(*u.Status))
	}
	return nil
}

// MaxTakedownReason is the longest takedown reason, in characters.
const MaxTakedownReason = 500

// ValidateTakedownReason checks a takedown reason: plain text of 1 to
// MaxTakedownReason characters, valid UTF-8, without control characters
// (it is shown on the edge's 451 page, escaped, and carried in the L2
// cache). The error wraps ErrInvalidLink.
func ValidateTakedownReason(reason string) error {
	switch n := utf8.RuneCountInString(reason); {
	case strings.TrimSpace(reason) == "":
		return invalidLink(errors.New("the takedown reason is empty"))
	case n > MaxTakedownReason:
		return invalidLink(fmt.Errorf("the takedown reason has %d characters, more than %d", n, MaxTakedownReason))
	case !utf8.ValidString(reason):
		return invalidLink(errors.New("the takedown reason is not valid UTF-8"))
	}
	for _, r := range reason {
		if unicode.IsControl(r) {
			return invalidLink(errors.New("the takedown reason contains a control character (it is one line of plain text)"))
		}
	}
	return nil
}

// CheckTakedown checks a takedown as Store.TakeDown takes it: a reason
// that ValidateTakedownReason accepts (the error wraps ErrInvalidLink) and
// a time.
func CheckTakedown(reason string, at time.Time) error {
	if err := ValidateTakedownReason(reason); err != nil {
		return err
	}
	if at.IsZero() {
		return errors.New("no takedown time")
	}
	return nil
}

// UpdateMissed tells why a store's update of a live link that is not
// taken down changed no row, from the link (or error) that Get returns
// afterwards: ErrTakenDown for a taken-down link, ErrNotFound for no live
// link, or Get's other error.
func UpdateMissed(l Link, err error) error {
	switch {
	case err == nil && l.TakenDown():
		return ErrTakenDown
	case err == nil, errors.Is(err, ErrNotFound):
		return ErrNotFound
	}
	return err
}

// invalidLinkError is an error of Validate: it reads as the problem alone
// and wraps ErrInvalidLink.
type invalidLinkError struct{ problem error }

func (e *invalidLinkError) Error() string { return e.problem.Error() }
func (e *invalidLinkError) Unwrap() error { return ErrInvalidLink }

// invalidLink makes err an invalidLinkError; nil stays nil.
func invalidLink(err error) error {
	if err == nil {
		return nil
	}
	return &invalidLinkError{err}
}

func validURL(u string) error {
	if u == "" {
		return errors.New("empty URL")
	}
	return validText("URL", u)
}

func validStatus(status int) error {
	switch status {
	case 0, 301, 302, 307, 308:
		return nil
	}
	return fmt.Errorf("redirect status %d is not 0, 301, 302, 307 or 308", status)
}

// validText refuses what a PostgreSQL text value cannot hold.
func validText(what, s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("%s is not valid UTF-8", what)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return fmt.Errorf("%s contains a NUL byte", what)
	}
	return nil
}

// HostOf returns the host of a target URL as the stores' host column
// holds it: lower case, without port, brackets or trailing dots; "" (a
// NULL host) when the URL has none. SQLite's shortify_url_host is this
// function; pgstore's migration 0002 filled in the hosts of older links
// with a SQL stand-in that agrees with it (tested there).
func HostOf(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return ""
	}
	return strings.TrimRight(strings.ToLower(u.Hostname()), ".")
}

// PrefixEnd returns the least string above every string that starts with
// p in byte order (which is code-point order for UTF-8, and the order of
// the "C" collation), so that "code >= p AND code < end" selects exactly
// the codes with the prefix p. It increments the last code point rather
// than the last byte, so that end is valid UTF-8 too. ok is false when no
// such string exists (p is empty or all U+10FFFF): no upper bound.
func PrefixEnd(p string) (end string, ok bool) {
	for p != "" {
		r, size := utf8.DecodeLastRuneInString(p)
		p = p[:len(p)-size]
		switch {
		case r == utf8.MaxRune:
			continue // drop it; carry into the code point before
		case r == 0xD7FF:
			r = 0xE000 // skip the surrogates, which UTF-8 cannot encode
		default:
			r++
		}
		return p + string(r), true
	}
	return "", false
}

// ReverseRunes reverses s by code point, as PostgreSQL's reverse() does.
// The stores index hosts reversed, so that a host's subdomains are one
// range of the index; SQLite's shortify_reverse is this function, so it
// must not change while SQLite files hold indexes built with it.
func ReverseRunes(s string) string {
	rs := []rune(s)
	for i, j := 0, len(rs)-1; i < j; i, j = i+1, j-1 {
		rs[i], rs[j] = rs[j], rs[i]
	}
	return string(rs)
}

// ListBounds is a ListQuery checked and reduced to the bounds that the
// stores' list queries take.
type ListBounds struct {
	// Limit is the most links returned, 1..MaxListLimit.
	Limit int
	// MinID and MaxID bound the ID inclusively, the cursor folded into
	// MaxID; unbounded sides are math.MinInt64 and math.MaxInt64.
	MinID, MaxID int64
	// Prefix is the code prefix, "" for none. When HasPrefixEnd, the
	// codes with the prefix are those in [Prefix, PrefixEnd) (see
	// PrefixEnd); otherwise those at or above Prefix.
	Prefix       string
	PrefixEnd    string
	HasPrefixEnd bool
	// Host is the host filter as the host column holds hosts (lower case,
	// no trailing dots), "" for none.
	Host string
	// WorkspaceID is the workspace filter, 0 for none.
	WorkspaceID int64
	// Domain is the link domain filter, "" for none.
	Domain string
	// Tags are the tags that every link listed has (compared ignoring
	// case), lower-cased and deduplicated; nil for none.
	Tags []string
	// Query is the search term, lower-cased, "" for
	// none.
	Query string
	// ExternalID is the external ID filter, "" for none.
	ExternalID string
	// ByClicks orders by clicks (then ID) instead of ID, descending.
	// With HasAfter, only links after (AfterClicks, AfterID) in that
	// order are listed (the cursor, not folded into MaxID).
	ByClicks             bool
	HasAfter             bool
	AfterClicks, AfterID int64
}

// Bounds checks q and returns its bounds: an error for a Limit outside
// 0..MaxListLimit, a negative ID bound or workspace ID, a Domain that
// ValidateDomain refuses, or a Prefix or Host that no code
// or host can match (invalid UTF-8, a NUL byte, a host of dots alone).
func (q ListQuery) Bounds() (ListBounds, error) {
	b := ListBounds{Limit: q.Limit, MinID: math.MinInt64, MaxID: math.MaxInt64}
	switch {
	case q.Limit < 0 || q.Limit > MaxListLimit:
		return b, fmt.Errorf("limit %d is not between 1 and %d", q.Limit, MaxListLimit)
	case q.Limit == 0:
		b.Limit = DefaultListLimit
	}
	if q.WorkspaceID < 0 {
		return b, fmt.Errorf("negative workspace ID %d", q.WorkspaceID)
	}
	if err := ValidateDomain(q.Domain); err != nil {
		return b, err
	}
	b.WorkspaceID, b.Domain = q.WorkspaceID, q.Domain
	if q.Before < 0 || q.MinID < 0 || q.MaxID < 0 {
		return b, fmt.Errorf("negative ID bound (before %d, min %d, max %d)", q.Before, q.MinID, q.MaxID)
	}
	if q.MinID > 0 {
		b.MinID = q.MinID
	}
	if q.MaxID > 0 {
		b.MaxID = q.MaxID
	}
	b.ByClicks = q.Sort == SortClicks
	switch {
	case q.BeforeClicks < 0:
		return b, fmt.Errorf("negative cursor clicks %d", q.BeforeClicks)
	case b.ByClicks && q.Before > 0:
		b.HasAfter, b.AfterClicks, b.AfterID = true, q.BeforeClicks, q.Before
	case q.Before > 0:
		b.MaxID = min(b.MaxID, q.Before-1)
	}
	if q.Prefix != "" {
		if err := validText("prefix", q.Prefix); err != nil {
			return b, err
		}
		b.Prefix = q.Prefix
		b.PrefixEnd, b.HasPrefixEnd = PrefixEnd(q.Prefix)
	}
	if err := q.organizeBounds(&b); err != nil {
		return b, err
	}
	if q.ExternalID != "" {
		if err := ValidateExternalID(q.ExternalID); err != nil {
			return b, err
		}
		b.ExternalID = q.ExternalID
	}
	if q.Host != "" {
		b.Host = strings.TrimRight(strings.ToLower(q.Host), ".")
		if b.Host == "" {
			return b, fmt.Errorf("host %q has no name", q.Host)
		}
		if err := validText("host", b.Host); err != nil {
			return b, err
		}
	}
	return b, nil
}

// Empty reports whether no ID can satisfy the bounds.
func (b ListBounds) Empty() bool { return b.MinID > b.MaxID }

// The bounds of a link's organizing fields (issue 17), in characters.
const (
	MaxTitle  = 500
	MaxNotes  = 10_000
	MaxTags   = 20
	MaxTagLen = 64
)

// CleanTags returns tags as the stores keep them: each trimmed of
// surrounding white space, the later of two that are equal ignoring case
// dropped (the first spelling is kept, as given), nil for none. It does
// not check them (validTags does, on the cleaned list), so that a caller
// can clean first and report the index of a bad tag as the list is
// stored.
func CleanTags(tags []string) []string {
	var out []string
	seen := make(map[string]bool, len(tags))
	for _, t := range tags {
		t = strings.TrimSpace(t)
		k := FoldASCII(t)
		if t != "" && seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, t)
	}
	return out
}

// validTags checks a cleaned tag list: at most MaxTags tags of 1 to
// MaxTagLen characters of one line of text each.
func validTags(tags []string) error {
	if len(tags) > MaxTags {
		return &smartlink.FieldError{Field: "tags", Problem: fmt.Sprintf("%d tags, more than %d", len(tags), MaxTags)}
	}
	for i, t := range tags {
		if err := ValidateTag(t); err != nil {
			return &smartlink.FieldError{Field: fmt.Sprintf("tags[%d]", i), Problem: err.Error()}
		}
	}
	return nil
}

// ValidateTag checks one tag (trimmed): 1 to MaxTagLen characters, valid
// UTF-8, without control characters. The tags routes check a tag name
// with it.
func ValidateTag(t string) error {
	n := utf8.RuneCountInString(t)
	switch {
	case strings.TrimSpace(t) == "":
		return errors.New("the tag is empty")
	case n > MaxTagLen:
		return fmt.Errorf("the tag has %d characters, more than %d", n, MaxTagLen)
	case !utf8.ValidString(t):
		return errors.New("the tag is not valid UTF-8")
	}
	for _, r := range t {
		if unicode.IsControl(r) {
			return errors.New("the tag contains a control character")
		}
	}
	return nil
}

// validLongText checks a title or notes (the field): at most max
// characters that a PostgreSQL text value can hold.
func validLongText(field, s string, max int) error {
	if err := validText(field, s); err != nil {
		return &smartlink.FieldError{Field: field, Problem: err.Error()}
	}
	if n := utf8.RuneCountInString(s); n > max {
		return &smartlink.FieldError{Field: field, Problem: fmt.Sprintf("%d characters, more than %d", n, max)}
	}
	return nil
}

// CheckOrganize checks the organizing fields that are set (nil: not
// set), tags as CleanTags leaves them, and returns a
// *smartlink.FieldError naming the field ("title", "notes", "tags" or
// "tags[i]"): the API's 400 names it. Link.Validate and Update.Validate
// return it wrapped in ErrInvalidLink.
func CheckOrganize(title, notes *string, tags *[]string) error {
	if title != nil {
		if err := validLongText("title", *title, MaxTitle); err != nil {
			return err
		}
	}
	if notes != nil {
		if err := validLongText("notes", *notes, MaxNotes); err != nil {
			return err
		}
	}
	if tags != nil {
		return validTags(CleanTags(*tags))
	}
	return nil
}

// MinQuery and MaxQuery bound a ListQuery.Query, in characters. A
// shorter term has no trigram for PostgreSQL's index to look up, so it
// would be matched against every link of the workspace: seconds for a
// million links (BenchmarkSearchMillion).
const (
	MinQuery = 3
	MaxQuery = 200
)

// ListSorts are the orders List knows: SortCreated (the default, newest
// first) and SortClicks.
var ListSorts = []string{SortCreated, SortClicks}

// organizeBounds checks q's tags, query and sort into b; its errors are
// *smartlink.FieldError naming the API's query parameter (tag, q, sort).
func (q ListQuery) organizeBounds(b *ListBounds) error {
	if q.Sort != "" && !slices.Contains(ListSorts, q.Sort) {
		return &smartlink.FieldError{Field: "sort", Problem: fmt.Sprintf("%q is not one of %s", q.Sort, strings.Join(ListSorts, ", "))}
	}
	tags := CleanTags(q.Tags)
	if len(tags) > MaxTags {
		return &smartlink.FieldError{Field: "tag", Problem: fmt.Sprintf("%d tags, more than %d", len(tags), MaxTags)}
	}
	for _, t := range tags {
		if err := ValidateTag(t); err != nil {
			return &smartlink.FieldError{Field: "tag", Problem: fmt.Sprintf("%q: %v", t, err)}
		}
		b.Tags = append(b.Tags, FoldASCII(t))
	}
	if q.Query != "" {
		if err := validLongText("q", q.Query, MaxQuery); err != nil {
			return err
		}
		if n := utf8.RuneCountInString(q.Query); n < MinQuery {
			return &smartlink.FieldError{Field: "q", Problem: fmt.Sprintf("%d characters, fewer than %d (a search term needs 3 characters for the index)", n, MinQuery)}
		}
		b.Query = FoldASCII(q.Query)
	}
	return nil
}

// FoldASCII lower-cases the ASCII letters of s and leaves every other
// character as it is: how tags and searches ignore case. It is the same
// in Go, in SQLite's lower() and in PostgreSQL's translate() (migration
// 0009) whatever the database's locale, where PostgreSQL's lower() folds
// non-ASCII letters under some locales and not under C: a search or tag
// filter must not depend on how the database was created.
func FoldASCII(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// ReplaceTag returns tags with every tag equal to tag ignoring case
// replaced by name, or removed when name is "", cleaned (CleanTags: a
// name that the link had already is kept once, as spelled first), and
// whether anything changed.
func ReplaceTag(tags []string, tag, name string) ([]string, bool) {
	out := make([]string, 0, len(tags))
	changed := false
	for _, t := range tags {
		if FoldASCII(t) == FoldASCII(tag) {
			changed = true
			if name == "" {
				continue
			}
			t = name
		}
		out = append(out, t)
	}
	if !changed {
		return tags, false
	}
	return CleanTags(out), true
}

// CheckTagChange checks the arguments of RenameTag (name "" is
// DeleteTag's): a tag and a name that ValidateTag accepts. The error
// wraps ErrInvalidLink.
func CheckTagChange(tag, name string) error {
	if err := ValidateTag(tag); err != nil {
		return invalidLink(fmt.Errorf("tag: %w", err))
	}
	if name == "" {
		return nil
	}
	if err := ValidateTag(name); err != nil {
		return invalidLink(fmt.Errorf("name: %w", err))
	}
	return nil
}
