package partitions

import "sync"

// policySource is a policy the test changes.
type policySource struct {
	mu  sync.Mutex
	p   Policy
	set bool
}

func (s *policySource) Policy() (Policy, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.p, s.set
}

func (s *policySource) change(p Policy) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.p, s.set = p, true
}
