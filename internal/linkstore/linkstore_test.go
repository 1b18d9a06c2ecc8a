package linkstore_test

import (
	"errors"
	"testing"

	"github.com/shortify/shortify/internal/linkstore"
	"github.com/shortify/shortify/internal/linkstore/storetest"
)

func TestPrefixEnd(t *testing.T) {
	tests := []struct {
		p, end string
		ok     bool
	}{
		{"", "", false},
		{"a", "b", true},
		{"abc", "abd", true},
		{"az", "a{", true},
		{"a\x7f", "a\u0080", true}, // the next code point, not the byte 0x80
		{"aÿ", "aĀ", true},
		{"a\u07ff", "a\u0800", true},
		{"a\ud7ff", "a\ue000", true}, // over the surrogates
		{"a\uffff", "a\U00010000", true},
		{"a\U0010FFFF", "b", true},
		{"a\U0010FFFF\U0010FFFF", "b", true},
		{"\U0010FFFF", "", false},
	}
	for _, tt := range tests {
		end, ok := linkstore.PrefixEnd(tt.p)
		if end != tt.end || ok != tt.ok {
			t.Errorf("PrefixEnd(%+q) = %+q, %t; want %+q, %t", tt.p, end, ok, tt.end, tt.ok)
		}
	}
}

func TestHostOf(t *testing.T) {
	for _, tt := range storetest.HostURLs {
		if got := linkstore.HostOf(tt.URL); got != tt.Host {
			t.Errorf("HostOf(%q) = %q, want %q", tt.URL, got, tt.Host)
		}
	}
}

// TestValidate: the errors of Link.Validate and Update.Validate read as
// the problem alone (the stores prefix the operation and the code) and
// wrap ErrInvalidLink.
func TestValidate(t *testing.T) {
	valid := linkstore.Link{Code: "abc", URL: "https://example.com/"}
	if err := valid.Validate(); err != nil {
		t.Fatalf("Validate(%+v): %v", valid, err)
	}
	for _, status := range []int{0, 301, 302, 307, 308} {
		l := valid
		l.Status = status
		if err := l.Validate(); err != nil {
			t.Errorf("status %d: %v", status, err)
		}
	}
	tests := []struct {
		edit func(l *linkstore.Link)
		want string
	}{
		{func(l *linkstore.Link) { l.Code = "" }, "empty code"},
		{func(l *linkstore.Link) { l.Code = "a\xff" }, "code is not valid UTF-8"},
		{func(l *linkstore.Link) { l.Code = "a\x00" }, "code contains a NUL byte"},
		{func(l *linkstore.Link) { l.URL = "" }, "empty URL"},
		{func(l *linkstore.Link) { l.URL += "\xff" }, "URL is not valid UTF-8"},
		{func(l *linkstore.Link) { l.URL += "\x00" }, "URL contains a NUL byte"},
		{func(l *linkstore.Link) { l.Status = 200 }, "redirect status 200 is not 0, 301, 302, 307 or 308"},
		{func(l *linkstore.Link) { l.Code, l.Status = "", 200 }, "empty code"}, // the code first
	}
	for _, tt := range tests {
		l := valid
		tt.edit(&l)
		err := l.Validate()
		if err == nil || err.Error() != tt.want || !errors.Is(err, linkstore.ErrInvalidLink) {
			t.Errorf("Validate(%+v) = %v, want %q wrapping ErrInvalidLink", l, err, tt.want)
		}
	}

	url, empty, status := "https://example.org/", "", 303
	if err := (linkstore.Update{URL: &url}).Validate(); err != nil {
		t.Errorf("Update.Validate of a valid URL: %v", err)
	}
	if err := (linkstore.Update{}).Validate(); err != nil {
		t.Errorf("Update.Validate of no change: %v", err)
	}
	for _, tt := range []struct {
		u    linkstore.Update
		want string
	}{
		{linkstore.Update{URL: &empty}, "empty URL"},
		{linkstore.Update{Status: &status}, "redirect status 303 is not 0, 301, 302, 307 or 308"},
		{linkstore.Update{URL: &empty, Status: &status}, "empty URL"}, // the URL first
	} {
		err := tt.u.Validate()
		if err == nil || err.Error() != tt.want || !errors.Is(err, linkstore.ErrInvalidLink) {
			t.Errorf("Update.Validate(%+v) = %v, want %q wrapping ErrInvalidLink", tt.u, err, tt.want)
		}
	}
}
