package fsm

import "fmt"

// The partition policy: how the leader keeps the partitioned stats tables
// (months created ahead, retention, drop or detach). It lives in the FSM so
// that every node, and so every future leader, applies the same policy.

// Bounds of the partition policy.
const (
	// MaxPolicyMonthsAhead bounds PartitionPolicy.MonthsAhead.
	MaxPolicyMonthsAhead = 24
	// MaxPolicyRetentionDays bounds PartitionPolicy.RetentionDays (about
	// a century).
	MaxPolicyRetentionDays = 36500
)

// PartitionPolicy is the partition upkeep's policy.
type PartitionPolicy struct {
	// MonthsAhead is how many months after the current one are kept
	// created, 1..MaxPolicyMonthsAhead.
	MonthsAhead int `json:"months_ahead"`
	// RetentionDays is how long stats data is kept, in days,
	// 1..MaxPolicyRetentionDays.
	RetentionDays int `json:"retention_days"`
	// Detach makes the retention detach expired partitions, not drop them.
	Detach bool `json:"detach,omitempty"`
}

// Check reports what makes the policy unacceptable, wrapping
// ErrInvalidCommand.
func (p PartitionPolicy) Check() error {
	if p.MonthsAhead < 1 || p.MonthsAhead > MaxPolicyMonthsAhead {
		return fmt.Errorf("%w: months ahead %d not in 1..%d", ErrInvalidCommand, p.MonthsAhead, MaxPolicyMonthsAhead)
	}
	if p.RetentionDays < 1 || p.RetentionDays > MaxPolicyRetentionDays {
		return fmt.Errorf("%w: retention %d days not in 1..%d", ErrInvalidCommand, p.RetentionDays, MaxPolicyRetentionDays)
	}
	return nil
}

// SetPartitionPolicy replaces the partition policy. With OnlyIfNone it is
// stored only when there is none yet (how a starting node seeds the policy
// from its configuration without overriding one set since). Response:
// *PolicyResult.
type SetPartitionPolicy struct {
	Policy     PartitionPolicy `json:"policy"`
	OnlyIfNone bool            `json:"only_if_none,omitempty"`
}

// Type implements Command.
func (SetPartitionPolicy) Type() CommandType { return TypeSetPartitionPolicy }

// PolicyResult answers SetPartitionPolicy.
type PolicyResult struct {
	// Policy is the policy in force after the command (with OnlyIfNone,
	// the one set before when there was one); zero on error.
	Policy PartitionPolicy `json:"policy"`
	// Err is nil or ErrInvalidCommand.
	Err error `json:"-"`
}

func (r *PolicyResult) businessErr() error     { return r.Err }
func (r *PolicyResult) setBusinessErr(e error) { r.Err = e }

func (s *state) setPartitionPolicy(c *SetPartitionPolicy) any {
	if err := c.Policy.Check(); err != nil {
		return &PolicyResult{Err: err}
	}
	if c.OnlyIfNone && s.policy != nil {
		return &PolicyResult{Policy: *s.policy}
	}
	p := c.Policy
	s.policy = &p
	return &PolicyResult{Policy: p}
}

// PartitionPolicy returns the partition policy; false before the first
// SetPartitionPolicy.
func (f *FSM) PartitionPolicy() (PartitionPolicy, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.s.policy == nil {
		return PartitionPolicy{}, false
	}
	return *f.s.policy, true
}
