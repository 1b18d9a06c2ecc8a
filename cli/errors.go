package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/shortify/shortify/client"
)

// The CLI's exit codes (docs/cli.md), distinct so that scripts can tell
// "fix the command" from "the server said no" from "try again later".
const (
	// ExitOK: the command did what it was asked.
	ExitOK = 0
	// ExitFailure: anything else that went wrong on this side (a file
	// that cannot be written, a confirmation answered no).
	ExitFailure = 1
	// ExitUsage: the command line is wrong (unknown flag or command,
	// missing argument, bad value, no API key): nothing was sent.
	ExitUsage = 2
	// ExitRefused: the API refused the request (a 4xx answer: bad input,
	// unknown link, wrong key, not allowed).
	ExitRefused = 3
	// ExitUnavailable: the server failed (5xx) or could not be reached
	// (connection refused, DNS, timeout): trying again later may work.
	ExitUnavailable = 4
	// ExitInterrupted: Ctrl-C ended the command (128 + SIGINT).
	ExitInterrupted = 130
)

// usageError is a command line the CLI cannot run.
type usageError struct{ msg string }

func (u *usageError) Error() string { return u.msg }

// Usage returns a usage error (exit code ExitUsage) saying msg.
func Usage(msg string) error { return &usageError{msg} }

// Usagef is Usage with a format.
func Usagef(format string, a ...any) error { return Usage(fmt.Sprintf(format, a...)) }

// ExitError is an error already told to the user: the command ends with
// Code. It also unwraps to Caddy's exit error, so that the binary (whose
// main is caddycmd.Main) exits with Code too.
type ExitError struct {
	Code  int
	Err   error
	caddy error
}

func (x *ExitError) Error() string { return x.Err.Error() }

// Unwrap gives the cause and Caddy's carrier of the exit code.
func (x *ExitError) Unwrap() []error {
	if x.caddy == nil {
		return []error{x.Err}
	}
	return []error{x.Err, x.caddy}
}

// exitCode is the code an error carries when fail has handled it.
func exitCode(err error) (int, bool) {
	var x *ExitError
	if errors.As(err, &x) {
		return x.Code, true
	}
	return 0, false
}

// codeOf is the exit code of an error returned by a command.
func codeOf(err error) int {
	if err == nil {
		return ExitOK
	}
	if c, ok := exitCode(err); ok {
		return c
	}
	return ExitFailure
}

// Explain turns an error of a command into the line the user reads and
// the exit code; server is the URL the command talked to.
func Explain(err error, server string) (string, int) {
	var (
		u  *usageError
		p  *client.Problem
		se *client.StatusError
		ue *url.Error
	)
	switch {
	case errors.As(err, &u):
		return "shortify: " + u.msg, ExitUsage
	case errors.As(err, &p):
		return "shortify: " + problemLine(p), statusCode(p.Status)
	case errors.As(err, &se):
		body := strings.TrimSpace(strings.SplitN(se.Body, "\n", 2)[0])
		msg := fmt.Sprintf("shortify: %s answered HTTP %d %s", server, se.Status, http.StatusText(se.Status))
		if body != "" {
			msg += ": " + body
		}
		return msg + hint(se.Status), statusCode(se.Status)
	case errors.Is(err, context.Canceled):
		return "shortify: interrupted", ExitInterrupted
	case errors.As(err, &ue):
		// The transport's own error (dial, DNS, TLS, timeout), without
		// the method and URL that url.Error repeats.
		return fmt.Sprintf("shortify: cannot reach %s: %v", server, ue.Err), ExitUnavailable
	}
	return "shortify: " + err.Error(), ExitFailure
}

// problemLine is "<title>: <detail> (field <field>) [HTTP <status>]",
// with a hint for the statuses a user can act on.
func problemLine(p *client.Problem) string {
	var b strings.Builder
	b.WriteString(p.Title)
	if p.Detail != "" && p.Detail != p.Title {
		b.WriteString(": " + p.Detail)
	}
	if p.Field != "" {
		b.WriteString(" (field " + p.Field + ")")
	}
	fmt.Fprintf(&b, " [HTTP %d]", p.Status)
	b.WriteString(hint(p.Status))
	return b.String()
}

// hint tells what to check after a refusal that the answer alone does
// not explain to a CLI user.
func hint(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "; check --key or " + EnvKey
	case http.StatusForbidden:
		return "; the key's role or workspace does not allow this"
	}
	return ""
}

// statusCode is the exit code of an HTTP error status.
func statusCode(status int) int {
	if status >= 500 {
		return ExitUnavailable
	}
	return ExitRefused
}

// fail prints err once, in the CLI's words, to e.Stderr, and returns it
// as an *ExitError with its code; an error fail has handled already
// passes through.
func (e *Env) fail(cmd *cobra.Command, err error) error {
	if _, ok := exitCode(err); ok {
		return err
	}
	msg, code := Explain(err, e.Options(cmd).Server)
	// The message quotes the server's words: printable, as any output.
	fmt.Fprintln(e.Stderr, printable(msg))
	if code == ExitUsage {
		fmt.Fprintf(e.Stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
	x := &ExitError{Code: code, Err: err}
	if code > 1 {
		// Caddy's main exits with the code of its unexported exit error,
		// which only this wrapper makes; nil error: nothing more logged.
		x.caddy = caddycmd.WrapCommandFuncForCobra(func(caddycmd.Flags) (int, error) { return code, nil })(cmd, nil)
	}
	return x
}
