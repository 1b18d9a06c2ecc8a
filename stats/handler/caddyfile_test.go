package handler

import (
	"testing"

	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

func TestUnmarshalCaddyfile(t *testing.T) {
	for _, c := range []struct {
		in      string
		want    string
		wantErr bool
	}{
		{in: `shortify_stats`},
		{in: `shortify_stats {
			database postgres://stats@db/stats
		}`, want: "postgres://stats@db/stats"},
		{in: `shortify_stats {
			database ""
		}`}, // an unset {$VARIABLE}: the default
		{in: `shortify_stats extra`, wantErr: true},
		{in: `shortify_stats {
			database a b
		}`, wantErr: true},
		{in: `shortify_stats {
			public_reads on
		}`, wantErr: true},
	} {
		var h Handler
		err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(c.in))
		if (err != nil) != c.wantErr {
			t.Errorf("%q: error %v, want error %v", c.in, err, c.wantErr)
			continue
		}
		if h.Database != c.want {
			t.Errorf("%q: database %q, want %q", c.in, h.Database, c.want)
		}
	}
}
