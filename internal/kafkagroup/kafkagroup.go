// Package kafkagroup holds the bounds Kafka puts on a consumer group
// member's timeouts, shared by Shortify's consumers (the stats ingest and
// the webhook deliverer), so that a timeout a broker would refuse is an
// error when the config loads rather than a consumer that never joins.
package kafkagroup

import (
	"fmt"
	"time"
)

// Kafka's default group.min.session.timeout.ms and
// group.max.session.timeout.ms: brokers refuse a join outside them. The
// maximum also bounds rebalance timeouts.
const (
	MinSessionTimeout = 6 * time.Second
	MaxTimeout        = 30 * time.Minute
)

// CheckSessionTimeout says why app's session_timeout d would be refused.
func CheckSessionTimeout(app string, d time.Duration) error {
	if d < MinSessionTimeout || d > MaxTimeout {
		return fmt.Errorf("%s: session_timeout %v is outside %v..%v (Kafka's group.min/max.session.timeout.ms defaults)",
			app, d, MinSessionTimeout, MaxTimeout)
	}
	return nil
}
