// Package cli is the `shortify` command line for the REST APIs: links,
// stats, keys, export (and import, in import*.go). It talks to a running
// instance through package client only, so it works against any Shortify
// server; it lives in the server's binary because each command is a Caddy
// subcommand (registered in init with caddycmd.RegisterCommand), so that
// `shortify links …` works in cmd/shortify and in an xcaddy build alike.
//
// Every command shares the plumbing of this file: the persistent flags
// --server, --key, --workspace and --json (with their environment
// variables), the client built from them (Env.Client), one way of turning
// an error into a message and an exit code (errors.go), and the output
// helpers (output.go). Tests build the same command tree with Root over
// an Env of their own and run it with Execute.
package cli

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"time"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/shortify/shortify/client"
)

// The environment variables of the persistent flags.
const (
	EnvServer    = "SHORTIFY_URL"
	EnvKey       = "SHORTIFY_API_KEY"
	EnvWorkspace = "SHORTIFY_WORKSPACE"
)

// DefaultServer is where commands go when neither --server nor
// SHORTIFY_URL says: the address `make run` serves.
const DefaultServer = "http://localhost:8080"

// UserAgent is the User-Agent of the CLI's requests, so that operators
// can tell it from other programs in their logs.
const UserAgent = "shortify-cli"

// Env is everything a command reads and writes besides the API: tests
// give their own buffers, environment and HTTP client.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Getenv reads an environment variable (os.Getenv by default).
	Getenv func(string) string
	// HTTPClient makes the API calls (nil: one with a 2-minute timeout).
	HTTPClient *http.Client
	// Interactive says whether stdin is a terminal a person types at:
	// commands prompt (passwords without echo, confirmations) only then.
	Interactive bool
	// ReadSecret reads a line without echoing it (a password typed at a
	// terminal); nil reads a plain line from Stdin.
	ReadSecret func() (string, error)
	// Now is the clock for relative times such as --expires 30d.
	Now func() time.Time
	// Signals makes a command's context end on Ctrl-C (the real binary;
	// tests leave it off so as not to touch the process's signals).
	Signals bool

	stdinOnce sync.Once
	stdin     *bufio.Reader
}

// DefaultEnv is the process's own: os streams and environment, prompts
// on a terminal, Ctrl-C ends the command.
func DefaultEnv() *Env {
	fd := int(os.Stdin.Fd())
	interactive := term.IsTerminal(fd)
	e := &Env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv,
		Interactive: interactive, Now: time.Now, Signals: true}
	if interactive {
		e.ReadSecret = func() (string, error) {
			b, err := term.ReadPassword(fd)
			fmt.Fprintln(e.Stderr)
			return string(b), err
		}
	}
	return e
}

// getenv is Getenv, or os.Getenv when the Env has none.
func (e *Env) getenv(k string) string {
	if e.Getenv == nil {
		return os.Getenv(k)
	}
	return e.Getenv(k)
}

func (e *Env) now() time.Time {
	if e.Now == nil {
		return time.Now()
	}
	return e.Now()
}

// readLine reads one line of Stdin (without its end of line); io.EOF
// only when there was nothing at all.
func (e *Env) readLine() (string, error) {
	e.stdinOnce.Do(func() { e.stdin = bufio.NewReader(cmp.Or[io.Reader](e.Stdin, strings.NewReader(""))) })
	line, err := e.stdin.ReadString('\n')
	if err == io.EOF && line != "" {
		err = nil
	}
	return strings.TrimRight(line, "\r\n"), err
}

// Secret asks for a secret (a link's password) with prompt: without echo
// on a terminal, else the next line of stdin, so `echo pw | shortify …`
// works in scripts.
func (e *Env) Secret(prompt string) (string, error) {
	if e.Interactive {
		fmt.Fprint(e.Stderr, prompt)
	}
	if e.ReadSecret != nil {
		return e.ReadSecret()
	}
	what := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(prompt), ":"))
	s, err := e.readLine()
	if err == io.EOF {
		return "", Usagef("no %s on stdin: pipe it in, or run on a terminal to be asked", what)
	}
	if err != nil {
		return "", fmt.Errorf("read %s from stdin: %w", what, err)
	}
	return s, nil
}

// Confirm asks a yes/no question on the terminal; false unless the
// answer starts with y.
func (e *Env) Confirm(question string) (bool, error) {
	fmt.Fprintf(e.Stderr, "%s [y/N] ", printable(question))
	s, err := e.readLine()
	if err != nil && err != io.EOF {
		return false, fmt.Errorf("read the answer: %w", err)
	}
	s = strings.ToLower(strings.TrimSpace(s))
	return s == "y" || s == "yes", nil
}

// Options are the persistent flags, read from a command.
type Options struct {
	Server    string
	Key       string
	Workspace string
	JSON      bool
}

// persistent names the shared flags, which say how to reach the API
// rather than what to do.
var persistent = map[string]bool{"server": true, "key": true, "workspace": true, "json": true}

// addPersistentFlags puts the shared flags on a top-level command.
func addPersistentFlags(cmd *cobra.Command) {
	f := cmd.PersistentFlags()
	f.String("server", "", "Shortify's URL (env "+EnvServer+", default "+DefaultServer+")")
	f.String("key", "", "API key (env "+EnvKey+")")
	f.String("workspace", "", "act in this workspace, by ID or name (env "+EnvWorkspace+")")
	f.Bool("json", false, "print JSON for scripts instead of tables")
}

// Options reads the persistent flags of cmd, falling back on the
// environment and the defaults.
func (e *Env) Options(cmd *cobra.Command) Options {
	str := func(name, env string) string {
		v, _ := cmd.Flags().GetString(name)
		return cmp.Or(v, e.getenv(env))
	}
	o := Options{Server: cmp.Or(str("server", EnvServer), DefaultServer), Key: str("key", EnvKey), Workspace: str("workspace", EnvWorkspace)}
	o.JSON, _ = cmd.Flags().GetBool("json")
	return o
}

// Client builds the API client from the persistent flags: a usage error
// without a key, or with a server that is no http(s) URL.
func (e *Env) Client(cmd *cobra.Command) (*client.Client, error) {
	o := e.Options(cmd)
	if o.Key == "" {
		return nil, Usage("no API key: set --key or " + EnvKey)
	}
	hc := e.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 2 * time.Minute}
	}
	c, err := client.New(o.Server, client.WithAPIKey(o.Key), client.WithWorkspace(o.Workspace),
		client.WithHTTPClient(hc), client.WithUserAgent(UserAgent))
	if err != nil {
		return nil, Usage(fmt.Sprintf("--server (or %s): %v", EnvServer, err))
	}
	return c, nil
}

// Spec is a top-level command: Build adds its flags, subcommands and
// RunE to the cobra command made from the rest, for the Env given.
type Spec struct {
	Name  string
	Usage string
	Short string
	Long  string
	Build func(cmd *cobra.Command, e *Env)
}

var (
	specsMu sync.Mutex
	specs   []Spec
)

// Register adds a top-level command to the CLI and to Caddy's command
// line (with the process's DefaultEnv). Call it from init.
func Register(s Spec) {
	specsMu.Lock()
	specs = append(specs, s)
	specsMu.Unlock()
	caddycmd.RegisterCommand(caddycmd.Command{
		Name: s.Name, Usage: s.Usage, Short: s.Short, Long: s.Long,
		CobraFunc: func(cmd *cobra.Command) { setup(cmd, s, DefaultEnv()) },
	})
}

// setup builds a registered command on cmd: its own tree, then the
// shared flags, output streams and error handling over all of it.
func setup(cmd *cobra.Command, s Spec, e *Env) {
	addPersistentFlags(cmd)
	s.Build(cmd, e)
	cmd.SetOut(e.Stdout)
	cmd.SetErr(e.Stderr)
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return e.fail(c, Usage(err.Error()))
	})
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		// Errors are printed by fail, once, in the CLI's words.
		c.SilenceErrors, c.SilenceUsage = true, true
		if c.HasSubCommands() && c.RunE == nil && c.Run == nil {
			c.Args = cobra.ArbitraryArgs
			c.RunE = func(c *cobra.Command, args []string) error { return e.group(c, args) }
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(cmd)
}

// group answers a command that only groups others (`shortify links`):
// its help, and a usage error for an unknown subcommand.
func (e *Env) group(c *cobra.Command, args []string) error {
	if len(args) == 0 {
		return c.Help()
	}
	return e.fail(c, Usage(fmt.Sprintf("unknown command %q for %q", args[0], c.CommandPath())))
}

// Root returns the whole CLI as one cobra tree over e: what tests run
// (the binary's root is Caddy's, holding the same commands).
func Root(e *Env) *cobra.Command {
	root := &cobra.Command{Use: "shortify", Short: "Shortify's command line", SilenceErrors: true, SilenceUsage: true}
	root.SetOut(e.Stdout)
	root.SetErr(e.Stderr)
	specsMu.Lock()
	all := slices.Clone(specs)
	specsMu.Unlock()
	slices.SortFunc(all, func(a, b Spec) int { return strings.Compare(a.Name, b.Name) })
	for _, s := range all {
		cmd := &cobra.Command{Use: strings.TrimSpace(s.Name + " " + s.Usage), Short: s.Short, Long: s.Long}
		setup(cmd, s, e)
		root.AddCommand(cmd)
	}
	return root
}

// Execute runs the CLI with args (without the program's name) over e
// and returns the exit code, as the binary would exit.
func Execute(ctx context.Context, e *Env, args []string) int {
	root := Root(e)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	if code, ok := exitCode(err); ok {
		return code
	}
	// An error that did not go through fail is cobra's own about the
	// command line (an unknown top-level command): a usage error.
	return codeOf(e.fail(root, Usage(err.Error())))
}

// run wraps a command's work: the context (ended on Ctrl-C when
// e.Signals), and every error through fail.
func (e *Env) run(fn func(ctx context.Context, cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		ctx := cmd.Context()
		if ctx == nil {
			ctx = context.Background()
		}
		if e.Signals {
			var stop context.CancelFunc
			ctx, stop = signal.NotifyContext(ctx, os.Interrupt)
			defer stop()
		}
		if err := fn(ctx, cmd, args); err != nil {
			return e.fail(cmd, err)
		}
		return nil
	}
}

// args checks a command's positional arguments: exactly the names given
// (shown in the usage error when they are not).
func (e *Env) args(names ...string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == len(names) {
			return nil
		}
		if len(args) < len(names) {
			return e.fail(cmd, Usage(fmt.Sprintf("%s needs %s", cmd.CommandPath(), strings.Join(names[len(args):], " "))))
		}
		return e.fail(cmd, Usage(fmt.Sprintf("%s takes %d argument(s), got %d: %s", cmd.CommandPath(), len(names), len(args), strings.Join(args, " "))))
	}
}
