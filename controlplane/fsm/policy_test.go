package fsm

import (
	"io"
	"reflect"
	"strings"
	"testing"
)

func TestSetPartitionPolicy(t *testing.T) {
	valid := PartitionPolicy{MonthsAhead: 3, RetentionDays: 400}
	tests := []struct {
		name       string
		before     *PartitionPolicy
		policy     PartitionPolicy
		onlyIfNone bool
		want       *PartitionPolicy // nil: policy
		wantErr    error
	}{
		{name: "seed into none", policy: valid, onlyIfNone: true},
		{name: "seed keeps the policy set before", before: &valid, policy: PartitionPolicy{MonthsAhead: 9, RetentionDays: 9}, onlyIfNone: true, want: &valid},
		{name: "bad seed is refused", before: &valid, policy: PartitionPolicy{MonthsAhead: 99, RetentionDays: 9}, onlyIfNone: true, wantErr: ErrInvalidCommand},
		{name: "first policy", policy: valid},
		{name: "replaces the policy", before: &valid, policy: PartitionPolicy{MonthsAhead: 24, RetentionDays: 36500, Detach: true}},
		{name: "smallest", policy: PartitionPolicy{MonthsAhead: 1, RetentionDays: 1}},
		{name: "months zero", policy: PartitionPolicy{MonthsAhead: 0, RetentionDays: 400}, wantErr: ErrInvalidCommand},
		{name: "months too many", before: &valid, policy: PartitionPolicy{MonthsAhead: 25, RetentionDays: 400}, wantErr: ErrInvalidCommand},
		{name: "retention zero", policy: PartitionPolicy{MonthsAhead: 3, RetentionDays: 0}, wantErr: ErrInvalidCommand},
		{name: "retention negative", before: &valid, policy: PartitionPolicy{MonthsAhead: 3, RetentionDays: -1}, wantErr: ErrInvalidCommand},
		{name: "retention too long", policy: PartitionPolicy{MonthsAhead: 3, RetentionDays: 36501}, wantErr: ErrInvalidCommand},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newApplier(t)
			if tt.before != nil {
				if r := a.apply(SetPartitionPolicy{Policy: *tt.before}).(*PolicyResult); r.Err != nil {
					t.Fatal(r.Err)
				}
			}
			before := a.f.State()
			r := a.apply(SetPartitionPolicy{Policy: tt.policy, OnlyIfNone: tt.onlyIfNone}).(*PolicyResult)
			checkErr(t, r.Err, tt.wantErr)
			got, ok := a.f.PartitionPolicy()
			if tt.wantErr != nil {
				if !reflect.DeepEqual(a.f.State(), before) {
					t.Fatal("a refused policy changed the state")
				}
				return
			}
			want := tt.policy
			if tt.want != nil {
				want = *tt.want
			}
			if !ok || got != want || r.Policy != want {
				t.Fatalf("PartitionPolicy() = %+v, %v, response %+v; want %+v", got, ok, r.Policy, want)
			}
		})
	}
}

// A snapshot keeps the policy; one from before version 5 restores without.
func TestPartitionPolicySnapshot(t *testing.T) {
	a := newApplier(t)
	if _, ok := a.f.PartitionPolicy(); ok {
		t.Fatal("a new FSM has a policy")
	}
	p := PartitionPolicy{MonthsAhead: 6, RetentionDays: 90, Detach: true}
	a.apply(SetPartitionPolicy{Policy: p})
	st := a.f.State()
	b := newApplier(t)
	restoreState(t, b.f, st)
	if got, ok := b.f.PartitionPolicy(); !ok || got != p {
		t.Fatalf("restored policy %+v, %v; want %+v", got, ok, p)
	}
	if err := b.f.Restore(io.NopCloser(strings.NewReader(`{"version":4,"blocked_domains":["a.example"]}`))); err != nil {
		t.Fatal(err)
	}
	if got, ok := b.f.PartitionPolicy(); ok {
		t.Fatalf("a version 4 snapshot restored policy %+v", got)
	}
}
