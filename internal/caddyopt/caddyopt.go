// Package caddyopt parses the subdirectives of Shortify's Caddyfile global
// options (`shortify`, `shortify_ingest`, `shortify_kafka`) one way: each
// takes its values from the line, a value of the wrong kind is an error
// that names the subdirective and the value, and a subdirective without a
// value keeps its default, so that `database {$SHORTIFY_DATABASE_URL}`
// with the variable unset means "not set" and one Caddyfile serves the
// embedded default and production alike.
package caddyopt

import (
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// Option is one subdirective of a block: its name and its values.
type Option struct {
	d *caddyfile.Dispenser
	// Name is the subdirective, e.g. "database".
	Name string
	// Args are its values, at least one of them not empty.
	Args []string
}

// Block calls fn for every subdirective of the block that d is at, after
// the option's name and arguments, skipping those without a value. No
// subdirective takes a block of its own: one is an error rather than
// lines silently read as subdirectives without values.
func Block(d *caddyfile.Dispenser, fn func(o *Option) error) error {
	for d.NextBlock(0) {
		o := Option{d: d, Name: d.Val(), Args: d.RemainingArgs()}
		if d.NextBlock(d.Nesting()) {
			return d.Errf("%s: takes no block", o.Name)
		}
		if len(o.Args) == 0 || (len(o.Args) == 1 && o.Args[0] == "") {
			continue
		}
		if err := fn(&o); err != nil {
			return err
		}
	}
	return nil
}

// Errf is an error at the subdirective's line.
func (o *Option) Errf(format string, args ...any) error { return o.d.Errf(format, args...) }

// Unknown is the error for a subdirective that block does not have.
func (o *Option) Unknown(block string) error {
	return o.d.Errf("unknown %s option %q", block, o.Name)
}

// One is the subdirective's only value.
func (o *Option) One() (string, error) {
	if len(o.Args) != 1 {
		return "", o.d.Errf("%s takes one value, got %d", o.Name, len(o.Args))
	}
	return o.Args[0], nil
}

// String sets *dst to the only value.
func (o *Option) String(dst *string) error {
	v, err := o.One()
	if err == nil {
		*dst = v
	}
	return err
}

// Append adds every value to *dst: a list may span several lines.
func (o *Option) Append(dst *[]string) error {
	*dst = append(*dst, o.Args...)
	return nil
}

// OnOff sets *dst from on or off (true or false).
func (o *Option) OnOff(dst *bool) error {
	v, err := o.One()
	if err != nil {
		return err
	}
	switch v {
	case "on", "true":
		*dst = true
	case "off", "false":
		*dst = false
	default:
		return o.d.Errf("%s %q: want on or off", o.Name, v)
	}
	return nil
}

// Int sets *dst to a whole number; Validate checks its range.
func (o *Option) Int(dst *int) error {
	v, err := o.One()
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return o.d.Errf("%s %q is not a whole number", o.Name, v)
	}
	*dst = n
	return nil
}

// PositiveInt sets *dst to a number above zero; unit names what it counts
// in the error (e.g. "bytes").
func (o *Option) PositiveInt(dst *int, unit string) error {
	var n int
	if err := o.Int(&n); err != nil {
		return err
	}
	if n <= 0 {
		return o.d.Errf("%s %q is not a positive number of %s", o.Name, o.Args[0], unit)
	}
	*dst = n
	return nil
}

// PositiveFloat sets *dst to a number above zero; unit names what it
// counts in the error.
func (o *Option) PositiveFloat(dst *float64, unit string) error {
	v, err := o.One()
	if err != nil {
		return err
	}
	r, err := strconv.ParseFloat(v, 64)
	if err != nil || !(r > 0) {
		return o.d.Errf("%s %q is not a positive number of %s", o.Name, v, unit)
	}
	*dst = r
	return nil
}

// Duration sets *dst to a Caddy duration (Go's syntax, plus d for days).
func (o *Option) Duration(dst *caddy.Duration) error {
	v, err := o.One()
	if err != nil {
		return err
	}
	dur, err := caddy.ParseDuration(v)
	if err != nil {
		return o.d.Errf("%s %q: %v", o.Name, v, err)
	}
	*dst = caddy.Duration(dur)
	return nil
}

// PositiveDuration is Duration for a duration that must be above zero.
func (o *Option) PositiveDuration(dst *caddy.Duration) error {
	var dur caddy.Duration
	if err := o.Duration(&dur); err != nil {
		return err
	}
	if dur <= 0 {
		return o.d.Errf("%s %q: must be positive", o.Name, o.Args[0])
	}
	*dst = dur
	return nil
}
