package fsm

import "slices"

// Restoring a backup.
//
// A backup of the FSM is older than the link database it is restored
// with whenever links were created after it was taken: those links hold
// codes of sequence numbers and IDs of timestamps the backup's state does
// not know were used, and a cluster restored from it as it is would issue
// them again. RaiseFloors moves a backup's state past them before it is
// restored (package seqfloor measures what the database holds).

// RaiseFloors moves st past sequence numbers below seq and ID timestamps
// up to ms (on the timeline of the worker leases, milliseconds since the
// Snowflake epoch): NextSequence becomes at least seq, and every worker
// ID's highest timestamp at least ms, so that whoever leases any worker ID
// next starts after ms. A worker ID the state never leased is listed with
// generation 1 and no holder, which the FSM treats as released. It reports
// whether anything changed. seq is capped at MaxSequence.
func (st *State) RaiseFloors(seq uint64, ms int64) bool {
	changed := false
	seq = min(seq, MaxSequence)
	if seq > st.NextSequence {
		st.NextSequence, changed = seq, true
	}
	if ms <= 0 {
		return changed
	}
	listed := make(map[uint16]bool, len(st.Workers))
	for i := range st.Workers {
		w := &st.Workers[i]
		listed[w.ID] = true
		if w.HighMs < ms {
			w.HighMs, changed = ms, true
		}
	}
	for id := range uint16(NumWorkers) {
		if !listed[id] {
			st.Workers = append(st.Workers, WorkerState{ID: id, Gen: 1, HighMs: ms})
			changed = true
		}
	}
	slices.SortFunc(st.Workers, func(a, b WorkerState) int { return int(a.ID) - int(b.ID) })
	return changed
}

// Revoke marks revoked, as of the time given (Unix milliseconds), every
// key of st that revoked lists and st holds unrevoked: the revocations the
// link database recorded after the backup was taken. It returns how many
// keys it revoked; IDs st does not hold (keys created after the backup)
// are ignored.
func (st *State) Revoke(revoked map[string]int64) int {
	n := 0
	for i := range st.Keys {
		k := &st.Keys[i]
		if ms, ok := revoked[k.ID]; ok && ms > 0 && !k.Revoked() {
			k.RevokedMs = ms
			n++
		}
	}
	return n
}
