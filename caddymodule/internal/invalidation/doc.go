// Package invalidation is the edge's consumer of the link-events topic
// (package linkevents): for every event the control plane publishes about a
// code (created, updated, disabled, deleted) it calls the edge's evict
// function, which drops the code from L1 and L2 (and, for a created event,
// a cached "unknown code" entry).
//
// # Guarantees
//
// While connected, an event is handed to the evict function well within one
// second of being published: the consumer fetches with a short FetchMaxWait
// (default 200 ms), and a broker answers a waiting fetch as soon as a record
// arrives. TestLatency measures it.
//
// While disconnected (Kafka down or unreachable), events wait in Kafka and
// the edge serves what it has cached: the L1 TTL bounds how stale an answer
// can be. The client reconnects on its own, retrying at most a second
// apart, and resumes after the last record it read, so events published
// during an outage are applied once it is over, in order per code.
// Stats.Connected tells the two states apart (for a readiness check or a
// metric).
//
// # What is read
//
// Every edge reads every event: there is no consumer group and nothing is
// committed. An edge starts at the records published from the moment it
// starts (Kafka's offset for that time), never replaying older ones: its L1
// starts empty, and L2 entries older than that are bounded by their TTL.
// "From that moment" goes by record timestamps, which are the event times
// on the control plane's clock: a clock skew between the two moves the
// starting point by as much, for the first events only.
// Partitions added to the topic later are found on the next metadata
// refresh (Config.MetadataMaxAge) and read from the same moment, so their
// first events are late by that much at most, never lost.
//
// Records that do not decode (garbage, a key that is not the event's code,
// a format version this edge does not know) are counted and skipped; they
// never stop the consumer.
package invalidation
