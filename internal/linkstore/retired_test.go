package linkstore

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestViews(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name            string
		l               Link
		owner, edgeSees bool
	}{
		{"live", Link{}, true, true},
		{"live, taken down", Link{TakedownAt: at, TakedownReason: "x"}, true, true},
		{"expired, retired", Link{RetiredAt: at, RetiredReason: RetiredExpired}, false, true},
		{"deleted", Link{RetiredAt: at, RetiredReason: RetiredDeleted}, false, false},
		{"deleted while taken down", Link{RetiredAt: at, RetiredReason: RetiredDeleted, TakedownAt: at, TakedownReason: "x"}, false, true},
	} {
		if got := tt.l.OwnerSees(); got != tt.owner {
			t.Errorf("%s: OwnerSees = %t, want %t", tt.name, got, tt.owner)
		}
		if got := tt.l.EdgeSees(); got != tt.edgeSees {
			t.Errorf("%s: EdgeSees = %t, want %t", tt.name, got, tt.edgeSees)
		}
	}
}

func TestValidateTakedownReason(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		reason string
		ok     bool
	}{
		{"Phishing", true},
		{`<script>alert("x")</script> — court order`, true},
		{strings.Repeat("é", MaxTakedownReason), true},
		{strings.Repeat("é", MaxTakedownReason+1), false},
		{"", false},
		{" \t ", false},
		{"two\nlines", false},
		{"nul\x00", false},
		{"bidi\u0085", false},
		{"bad \xff UTF-8", false},
	} {
		err := ValidateTakedownReason(tt.reason)
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrInvalidLink)) {
			t.Errorf("ValidateTakedownReason(%.30q) = %v, want ok %t", tt.reason, err, tt.ok)
		}
	}
	if err := CheckTakedown("x", time.Time{}); err == nil {
		t.Error("CheckTakedown without a time: no error")
	}
}

func TestUpdateMissed(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	for _, tt := range []struct {
		name string
		l    Link
		err  error
		want error
	}{
		{"taken down", Link{TakedownAt: time.Unix(1, 0), TakedownReason: "x"}, nil, ErrTakenDown},
		{"no link", Link{}, ErrNotFound, ErrNotFound},
		{"live again (lifted meanwhile)", Link{}, nil, ErrNotFound},
		{"read failed", Link{}, boom, boom},
	} {
		if got := UpdateMissed(tt.l, tt.err); !errors.Is(got, tt.want) {
			t.Errorf("%s: UpdateMissed = %v, want %v", tt.name, got, tt.want)
		}
	}
}
