package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/shortify/shortify/client"
)

func linksUpdate(e *Env) *cobra.Command {
	var (
		f                                      linkFlags
		domain                                 string
		clearTags, noPassword, disable, enable bool
		clearExpiry                            bool
	)
	cmd := &cobra.Command{
		Use:   "update CODE",
		Short: "Changes a link: only the flags given are sent",
		Example: `  shortify links update launch --url https://example.com/launch-v2 --tag news --tag v2
  shortify links update launch --expires never --disable`,
		Args: e.args("CODE"),
	}
	f.addSettings(cmd)
	fl := cmd.Flags()
	fl.StringVar(&f.url, "url", "", "the new target URL")
	fl.StringVar(&domain, "domain", "", "the link's custom domain (none: the instance's own host)")
	fl.BoolVar(&clearTags, "clear-tags", false, "remove every tag")
	fl.BoolVar(&noPassword, "no-password", false, "remove the password")
	fl.BoolVar(&disable, "disable", false, "stop redirecting (the link is kept)")
	fl.BoolVar(&enable, "enable", false, "redirect again")
	fl.BoolVar(&clearExpiry, "no-expiry", false, `remove the expiry (same as --expires never)`)
	cmd.RunE = e.run(func(ctx context.Context, cmd *cobra.Command, args []string) error {
		req, err := f.update(e, cmd, updateSwitches{clearTags, noPassword, disable, enable, clearExpiry})
		if err != nil {
			return err
		}
		c, err := e.Client(cmd)
		if err != nil {
			return err
		}
		if f.password == "-" {
			pw, err := f.secret(e)
			if err != nil {
				return err
			}
			req.Password = client.Set(pw)
		}
		l, err := c.UpdateLink(ctx, args[0], domain, req)
		if err != nil {
			return err
		}
		return e.printLink(cmd, l)
	})
	return cmd
}

// updateSwitches are update's flags that clear or toggle a setting.
type updateSwitches struct{ clearTags, noPassword, disable, enable, noExpiry bool }

// update builds a PATCH from the flags the command line set, and only
// those: a usage error when none is set or two contradict each other.
// A password to be asked for ("-") is left for the caller, after the
// checks, so that nobody types one for a command that fails anyway.
func (f *linkFlags) update(e *Env, cmd *cobra.Command, sw updateSwitches) (client.UpdateLinkRequest, error) {
	var req client.UpdateLinkRequest
	set := cmd.Flags().Changed
	both := func(a, b string) bool { return set(a) && set(b) }
	for _, p := range [][2]string{{"tag", "clear-tags"}, {"password", "no-password"}, {"disable", "enable"}, {"expires", "no-expiry"}} {
		if both(p[0], p[1]) {
			return req, Usagef("--%s and --%s contradict each other", p[0], p[1])
		}
	}
	n := 0
	cmd.Flags().Visit(func(fl *pflag.Flag) {
		if !persistent[fl.Name] && fl.Name != "domain" {
			n++
		}
	})
	if n == 0 {
		return req, Usage("nothing to change: give at least one flag, such as --url, --title or --tag")
	}
	if set("url") {
		if f.url == "" {
			return req, Usage("--url: empty")
		}
		req.URL = f.url
	}
	if set("title") {
		req.Title = &f.title
	}
	if set("notes") {
		req.Notes = &f.notes
	}
	switch {
	case set("tag"):
		req.Tags = &f.tags
	case sw.clearTags:
		req.Tags = &[]string{}
	}
	switch {
	case sw.noExpiry || (set("expires") && strings.EqualFold(strings.TrimSpace(f.expires), "never")):
		req.ExpiresAt = client.Clear[time.Time]()
	case set("expires"):
		t, err := ParseExpiry(f.expires, e.now())
		if err != nil {
			return req, Usagef("--expires: %v", err)
		}
		req.ExpiresAt = client.Set(t)
	}
	if set("status") {
		req.RedirectStatus = f.status
	}
	switch {
	case sw.noPassword:
		req.Password = client.Clear[string]()
	case set("password") && f.password != "-":
		if f.password == "" {
			return req, Usage("--password: empty (use --no-password to remove it)")
		}
		req.Password = client.Set(f.password)
	}
	if set("max-clicks") {
		if f.maxClicks == 0 {
			req.MaxClicks = client.Clear[int64]()
		} else {
			req.MaxClicks = client.Set(f.maxClicks)
		}
	}
	if set("expired-url") {
		if f.expiredURL == "" {
			req.ExpiredURL = client.Clear[string]()
		} else {
			req.ExpiredURL = client.Set(f.expiredURL)
		}
	}
	if sw.disable || sw.enable {
		req.Disabled = &sw.disable
	}
	return req, nil
}

func linksDelete(e *Env) *cobra.Command {
	var (
		opts client.DeleteLinkOptions
		yes  bool
	)
	cmd := &cobra.Command{
		Use:   "delete CODE",
		Short: "Deletes a link (asks first on a terminal, unless --yes)",
		Args:  e.args("CODE"),
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Domain, "domain", "", "the link's custom domain (none: the instance's own host)")
	fl.BoolVar(&opts.PurgeStats, "purge-stats", false, "delete the link's statistics too")
	fl.BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	cmd.RunE = e.run(func(ctx context.Context, cmd *cobra.Command, args []string) error {
		c, err := e.Client(cmd)
		if err != nil {
			return err
		}
		code := args[0]
		if !yes && e.Interactive {
			// Show what would go, so that the question is about a link
			// rather than a code: this also fails early on a wrong code.
			l, err := c.GetLink(ctx, code, opts.Domain)
			if err != nil {
				return err
			}
			q := fmt.Sprintf("Delete %s (→ %s)?", l.ShortURL, ellipsis(l.URL, 60))
			if opts.PurgeStats {
				q = fmt.Sprintf("Delete %s (→ %s) and its statistics?", l.ShortURL, ellipsis(l.URL, 60))
			}
			ok, err := e.Confirm(q)
			if err != nil {
				return err
			}
			if !ok {
				return errors.New("not deleted")
			}
		}
		if err := c.DeleteLink(ctx, code, opts); err != nil {
			return err
		}
		if e.Options(cmd).JSON {
			return writeJSON(e.Stdout, map[string]any{"code": code, "domain": opts.Domain, "deleted": true, "purged_stats": opts.PurgeStats})
		}
		fmt.Fprintf(e.Stdout, "deleted %s\n", code)
		return nil
	})
	return cmd
}
