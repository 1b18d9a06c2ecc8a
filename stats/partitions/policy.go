package partitions

import "time"

// Policy is the upkeep's policy: months created ahead, retention and
// whether expired partitions are detached rather than dropped.
type Policy struct {
	MonthsAhead int
	Retention   time.Duration
	Detach      bool
}

// PolicySource gives the upkeep's current policy (the cluster's replicated
// one); false: none yet, and the Manager's own configuration applies.
type PolicySource interface {
	Policy() (Policy, bool)
}
