package sqlitestore

import (
	"testing"
	"time"
)

// TestRetireExpiredPlanUsesIndex: RetireExpired finds expired links
// through links_expires_at_idx and deletes them by code, with or without
// statistics, never scanning the table. The search by code reads the
// primary key (code, domain), the only key since migration 0007.
func TestRetireExpiredPlanUsesIndex(t *testing.T) {
	s := seeded20k(t, `INSERT INTO links (code, id, url, created_at, expires_at)
SELECT hex(randomblob(6)) || i, i, 'https://x.example/', 0,
	CASE WHEN i % 50 = 0 THEN i WHEN i % 10 = 1 THEN 1000000000 END`)
	now := time.UnixMicro(100000)
	withAndWithoutStats(t, s, func(t *testing.T) {
		plan := queryPlan(t, s.w, sqlRetireExpired, now.UnixMicro(), 500)
		checkPlan(t, plan, []string{"INDEX links_expires_at_idx (expires_at<?)", "(code=?)"}, []string{"SCAN links"})
	})
	gone, err := s.RetireExpired(t.Context(), now, 500)
	if err != nil || len(gone) != 400 {
		t.Fatalf("RetireExpired: %d links, %v; want 400", len(gone), err)
	}
}
