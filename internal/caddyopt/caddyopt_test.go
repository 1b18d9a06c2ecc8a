package caddyopt

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// settings is what the test block fills.
type settings struct {
	name    string
	list    []string
	on      bool
	n, pos  int
	rate    float64
	wait    caddy.Duration
	timeout caddy.Duration
}

func parse(input string) (settings, error) {
	var s settings
	d := caddyfile.NewTestDispenser(input)
	d.Next()
	err := Block(d, func(o *Option) error {
		switch o.Name {
		case "name":
			return o.String(&s.name)
		case "list":
			return o.Append(&s.list)
		case "on":
			return o.OnOff(&s.on)
		case "n":
			return o.Int(&s.n)
		case "pos":
			return o.PositiveInt(&s.pos, "links")
		case "rate":
			return o.PositiveFloat(&s.rate, "batches a second")
		case "wait":
			return o.Duration(&s.wait)
		case "timeout":
			return o.PositiveDuration(&s.timeout)
		}
		return o.Unknown("test")
	})
	return s, err
}

func TestBlock(t *testing.T) {
	s, err := parse(`opt {
		name  a
		name  ""
		list  x y
		list  z
		on    true
		n     -3
		pos   7
		rate  0.5
		wait  -1s
		timeout 1d
		pos
	}`)
	if err != nil {
		t.Fatal(err)
	}
	want := settings{name: "a", list: []string{"x", "y", "z"}, on: true, n: -3, pos: 7, rate: 0.5,
		wait: caddy.Duration(-time.Second), timeout: caddy.Duration(24 * time.Hour)}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("got %+v\nwant %+v", s, want)
	}
}

func TestBlockErrors(t *testing.T) {
	for _, tt := range []struct{ input, errHas string }{
		{"opt {\n name a b\n}", "name takes one value, got 2"},
		{"opt {\n on maybe\n}", `on "maybe": want on or off`},
		{"opt {\n n ten\n}", `n "ten" is not a whole number`},
		{"opt {\n pos 0\n}", `pos "0" is not a positive number of links`},
		{"opt {\n rate -1\n}", `rate "-1" is not a positive number of batches a second`},
		{"opt {\n rate NaN\n}", `rate "NaN" is not a positive number`},
		{"opt {\n wait soon\n}", `wait "soon"`},
		{"opt {\n timeout 0s\n}", `timeout "0s": must be positive`},
		{"opt {\n colour red\n}", `unknown test option "colour"`},
		{"opt {\n name {\n  a\n }\n}", "name: takes no block"},
		{"opt {\n list x {\n  y\n }\n}", "list: takes no block"},
	} {
		if _, err := parse(tt.input); err == nil || !strings.Contains(err.Error(), tt.errHas) {
			t.Errorf("%q: error %v, want one containing %q", tt.input, err, tt.errHas)
		}
	}
}
