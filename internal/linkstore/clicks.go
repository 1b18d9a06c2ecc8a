package linkstore

// This file holds the links' click totals (issue 17): a copy of the stats
// database's all-time totals on each link, which the leader's click-totals
// job writes (Store.SetClicks) and the listing sorts by (ListQuery.Sort
// "clicks").

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// SortCreated and SortClicks are the orders of ListQuery.Sort.
const (
	// SortCreated is newest first (by ID), the default.
	SortCreated = "created"
	// SortClicks is most clicks first (Link.Clicks), then newest first;
	// its cursor is the last link's clicks and ID (ListQuery.Before and
	// BeforeClicks).
	SortClicks = "clicks"
)

// ClickTotal is one link's all-time click totals, as SetClicks writes
// them. The link is named by its code and ID: the stats database knows
// no domain, and the ID tells the link apart from another of the same code
// on another domain or from before.
type ClickTotal struct {
	LinkID int64
	Code   string
	// Clicks counts humans and bots; Humans the humans alone.
	Clicks, Humans int64
}

// CheckClickTotals checks totals as SetClicks takes them: a code and an ID
// for each, and counts that are not negative, with Humans not above Clicks.
func CheckClickTotals(totals []ClickTotal) error {
	for i, t := range totals {
		if t.Code == "" || t.Clicks < 0 || t.Humans < 0 || t.Humans > t.Clicks {
			return fmt.Errorf("click total %d (%q, link %d): %d clicks, %d of humans", i, t.Code, t.LinkID, t.Clicks, t.Humans)
		}
	}
	return nil
}

// SortClickTotals sorts totals by code and ID, the order in which a store
// locks their rows, so that two writers never deadlock.
func SortClickTotals(totals []ClickTotal) {
	slices.SortFunc(totals, func(a, b ClickTotal) int {
		return cmp.Or(strings.Compare(a.Code, b.Code), cmp.Compare(a.LinkID, b.LinkID))
	})
}
