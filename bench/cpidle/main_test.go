package main

import (
	"reflect"
	"testing"
)

// -bin takes label=path or a bare path (labelled by its file name) and
// refuses an empty label or path.
func TestBinFlags(t *testing.T) {
	for _, tc := range []struct {
		arg     string
		want    binary
		wantErr bool
	}{
		{arg: "before=/tmp/a/shortify", want: binary{"before", "/tmp/a/shortify"}},
		{arg: "/tmp/b/shortify-new", want: binary{"shortify-new", "/tmp/b/shortify-new"}},
		{arg: "after=", wantErr: true},
		{arg: "=/tmp/x", wantErr: true},
		{arg: "", wantErr: true},
	} {
		var b binFlags
		err := b.Set(tc.arg)
		if tc.wantErr {
			if err == nil {
				t.Errorf("%q: no error, got %v", tc.arg, b)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(b, binFlags{tc.want}) {
			t.Errorf("%q: %v, %v; want %v", tc.arg, b, err, tc.want)
		}
	}
}
