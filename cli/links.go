package cli

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/shortify/shortify/client"
)

func init() {
	Register(Spec{
		Name:  "links",
		Usage: "create|list|get|update|delete",
		Short: "Creates, lists, shows, changes and deletes short links",
		Long: `Manages the short links of a workspace through the REST API of the
instance at --server (SHORTIFY_URL), with the API key --key
(SHORTIFY_API_KEY). Tables by default; --json prints the API's JSON.`,
		Build: buildLinks,
	})
}

func buildLinks(cmd *cobra.Command, e *Env) {
	cmd.AddCommand(linksCreate(e), linksList(e), linksGet(e), linksUpdate(e), linksDelete(e))
}

// linkFlags are the link settings that create and update share.
type linkFlags struct {
	url, alias, domain, title, notes, expires, password, expiredURL string
	tags                                                            []string
	status                                                          int
	maxClicks                                                       int64
}

// addSettings adds the flags of a link's settings to cmd.
func (f *linkFlags) addSettings(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.title, "title", "", "title (the server fetches the page's title when none is given)")
	fl.StringArrayVar(&f.tags, "tag", nil, "tag (repeat for several)")
	fl.StringVar(&f.notes, "notes", "", "notes for yourself")
	fl.StringVar(&f.expires, "expires", "", "expiry: RFC 3339 time, date, or a duration from now such as 30d or 12h")
	fl.IntVar(&f.status, "status", 0, "redirect status: 301, 302, 307 or 308")
	fl.StringVar(&f.password, "password", "", `password visitors must give; "-" asks for it (no echo on a terminal)`)
	fl.Int64Var(&f.maxClicks, "max-clicks", 0, "clicks after which the link stops redirecting")
	fl.StringVar(&f.expiredURL, "expired-url", "", "where an expired or used-up link sends visitors")
}

// password returns the --password value, asking for it when it is "-".
func (f *linkFlags) secret(e *Env) (string, error) {
	if f.password != "-" {
		return f.password, nil
	}
	pw, err := e.Secret("Password: ")
	if err != nil {
		return "", err
	}
	if pw == "" {
		return "", Usage("--password -: the password given is empty")
	}
	return pw, nil
}

func linksCreate(e *Env) *cobra.Command {
	var f linkFlags
	cmd := &cobra.Command{
		Use:   "create URL",
		Short: "Shortens a URL",
		Example: `  shortify links create https://example.com/launch --alias launch --tag news --expires 30d
  shortify links create https://example.com/secret --password -`,
		Args: e.args("URL"),
	}
	f.addSettings(cmd)
	cmd.Flags().StringVar(&f.alias, "alias", "", "the code to use instead of a generated one")
	cmd.Flags().StringVar(&f.domain, "domain", "", "a verified custom domain of the workspace")
	cmd.RunE = e.run(func(ctx context.Context, cmd *cobra.Command, args []string) error {
		req := client.CreateLinkRequest{URL: args[0], Alias: f.alias, Domain: f.domain, Title: f.title, Tags: f.tags,
			Notes: f.notes, RedirectStatus: f.status, MaxClicks: f.maxClicks, ExpiredURL: f.expiredURL}
		if f.expires != "" {
			t, err := ParseExpiry(f.expires, e.now())
			if err != nil {
				return Usagef("--expires: %v", err)
			}
			req.ExpiresAt = &t
		}
		c, err := e.Client(cmd)
		if err != nil {
			return err
		}
		if req.Password, err = f.secret(e); err != nil {
			return err
		}
		l, err := c.CreateLink(ctx, req)
		if err != nil {
			return err
		}
		return e.printLink(cmd, l)
	})
	return cmd
}

// printLink shows one link: its JSON with --json, else its fields.
func (e *Env) printLink(cmd *cobra.Command, l *client.Link) error {
	if e.Options(cmd).JSON {
		return writeJSON(e.Stdout, l)
	}
	return linkFields(e.Stdout, l)
}

// linkFields writes a link's settings, one a line, the set ones only.
func linkFields(w io.Writer, l *client.Link) error {
	kv := []string{
		"Short URL", l.ShortURL,
		"Code", l.Code,
		"Domain", l.Domain,
		"Target", l.URL,
		"Title", l.Title,
		"Tags", strings.Join(l.Tags, ", "),
		"Notes", l.Notes,
		"ID", l.ID,
		"Created", shortTime(l.CreatedAt),
		"Clicks", fmt.Sprintf("%d (%d humans; all-time, refreshed periodically)", l.Clicks, l.ClicksHumans),
	}
	if l.ExpiresAt != nil {
		kv = append(kv, "Expires", shortTime(*l.ExpiresAt))
	}
	if l.RedirectStatus != 0 {
		kv = append(kv, "Redirect", strconv.Itoa(l.RedirectStatus))
	}
	if l.MaxClicks != 0 {
		kv = append(kv, "Max clicks", strconv.FormatInt(l.MaxClicks, 10))
	}
	kv = append(kv, "Expired URL", l.ExpiredURL)
	if n := len(l.Rules) + len(l.Targets); n > 0 {
		kv = append(kv, "Smart link", fmt.Sprintf("%d rule(s), %d target(s)", len(l.Rules), len(l.Targets)))
	}
	var state []string
	if l.Disabled {
		state = append(state, "disabled")
	}
	if l.PasswordProtected {
		state = append(state, "password protected")
	}
	if l.Review != nil {
		state = append(state, "flagged for review: "+l.Review.Reason)
	}
	if l.Takedown != nil {
		state = append(state, "taken down: "+l.Takedown.Reason)
	}
	kv = append(kv, "State", strings.Join(state, "; "))
	return fields(w, kv...)
}

func linksGet(e *Env) *cobra.Command {
	var domain string
	cmd := &cobra.Command{Use: "get CODE", Short: "Shows a link", Args: e.args("CODE")}
	cmd.Flags().StringVar(&domain, "domain", "", "the link's custom domain (none: the instance's own host)")
	cmd.RunE = e.run(func(ctx context.Context, cmd *cobra.Command, args []string) error {
		c, err := e.Client(cmd)
		if err != nil {
			return err
		}
		l, err := c.GetLink(ctx, args[0], domain)
		if err != nil {
			return err
		}
		return e.printLink(cmd, l)
	})
	return cmd
}

// listPage is the page size of a listing: the API's largest, so that a
// long listing takes few requests.
const listPage = 1000

func linksList(e *Env) *cobra.Command {
	var (
		q     client.ListLinksQuery
		limit int
		all   bool
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "Lists the workspace's links, newest first",
		Example: `  shortify links list --tag news --limit 50
  shortify links list --q launch --json | jq -r '.[].short_url'
  shortify links list --all --json > links.json`,
		Args: e.args(),
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&q.Tags, "tag", nil, "only links with this tag (repeat: all of them)")
	fl.StringVar(&q.Q, "q", "", "search code, target, title and tags (at least 3 characters)")
	fl.StringVar(&q.Sort, "sort", "", "order: created (newest first, the default) or clicks (most clicked first)")
	fl.StringVar(&q.Domain, "domain", "", "only links of this custom domain")
	fl.StringVar(&q.Prefix, "prefix", "", "only codes starting with this")
	fl.IntVar(&limit, "limit", 20, "at most this many links")
	fl.BoolVar(&all, "all", false, "every link, page after page (no --limit)")
	cmd.RunE = e.run(func(ctx context.Context, cmd *cobra.Command, _ []string) error {
		if limit < 1 && !all {
			return Usage("--limit must be at least 1 (or use --all)")
		}
		c, err := e.Client(cmd)
		if err != nil {
			return err
		}
		q.Limit = listPage
		if !all {
			q.Limit = min(limit, listPage)
		}
		out := e.listWriter(cmd)
		n := 0
		for l, err := range c.Links(ctx, q) {
			if err != nil {
				return err
			}
			if err := out.link(l); err != nil {
				return err
			}
			if n++; !all && n >= limit {
				break
			}
		}
		return out.close(n)
	})
	return cmd
}

// linkList writes a listing as it arrives: a JSON array element by
// element, or table rows.
type linkList struct {
	e     *Env
	json  bool
	table *Table
	n     int
}

func (e *Env) listWriter(cmd *cobra.Command) *linkList {
	ll := &linkList{e: e, json: e.Options(cmd).JSON}
	if !ll.json {
		ll.table = NewTable(e.Stdout, "CODE", "SHORT URL", "TARGET", "TITLE", "TAGS", "CLICKS", "CREATED")
	}
	return ll
}

func (ll *linkList) link(l client.Link) error {
	defer func() { ll.n++ }()
	if !ll.json {
		ll.table.Row(l.Code, l.ShortURL, ellipsis(l.URL, 60), ellipsis(l.Title, 40), strings.Join(l.Tags, ","), itoa(l.Clicks), shortTime(l.CreatedAt))
		return nil
	}
	sep := ",\n"
	if ll.n == 0 {
		sep = "[\n"
	}
	if _, err := io.WriteString(ll.e.Stdout, sep); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return writeJSONLine(ll.e.Stdout, l)
}

func (ll *linkList) close(n int) error {
	if ll.json {
		end := "\n]\n"
		if ll.n == 0 {
			end = "[]\n"
		}
		_, err := io.WriteString(ll.e.Stdout, end)
		return err
	}
	if err := ll.table.Flush(); err != nil {
		return err
	}
	if n == 0 {
		fmt.Fprintln(ll.e.Stderr, "no links")
	}
	return nil
}
