package partitions

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MonthStart returns the first instant of t's month in UTC: the lower bound
// of the monthly partition that holds t. t's own location does not matter;
// 2026-12-01T00:30+01:00 is in November (UTC).
func MonthStart(t time.Time) time.Time {
	y, m, _ := t.UTC().Date()
	return time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
}

// AddMonths returns the first instant (UTC) of the month n months after
// month's (n may be negative): AddMonths(December 2026, 1) is January 2027.
func AddMonths(month time.Time, n int) time.Time {
	y, m, _ := month.UTC().Date()
	return time.Date(y, m+time.Month(n), 1, 0, 0, 0, 0, time.UTC)
}

// MonthsFrom returns the month of now and the ahead months after it, in
// order: the months whose partitions EnsureAhead keeps.
func MonthsFrom(now time.Time, ahead int) []time.Time {
	first := MonthStart(now)
	ms := make([]time.Time, 0, ahead+1)
	for i := range ahead + 1 {
		ms = append(ms, AddMonths(first, i))
	}
	return ms
}

// PartitionName is the name of table's partition for month:
// clicks_y2026m11. The name sorts in time order within a table.
func PartitionName(table string, month time.Time) string {
	y, m, _ := month.UTC().Date()
	return fmt.Sprintf("%s_y%04dm%02d", table, y, int(m))
}

// ParsePartitionName splits a name made by PartitionName into its table
// and month; ok is false for any other name.
func ParsePartitionName(name string) (table string, month time.Time, ok bool) {
	i := strings.LastIndex(name, "_y")
	if i <= 0 || len(name) != i+len("_y0000m00") || name[i+6] != 'm' {
		return "", time.Time{}, false
	}
	y, err1 := strconv.Atoi(name[i+2 : i+6])
	m, err2 := strconv.Atoi(name[i+7:])
	if err1 != nil || err2 != nil || y < 1 || m < 1 || m > 12 || strings.ContainsAny(name[i+2:], "+-") {
		return "", time.Time{}, false
	}
	return name[:i], time.Date(y, time.Month(m), 1, 0, 0, 0, 0, time.UTC), true
}

// Names returns the names of ps, sorted: how logs and tests compare sets
// of partitions.
func Names(ps []Partition) []string {
	ns := make([]string, 0, len(ps))
	for _, p := range ps {
		ns = append(ns, p.Name)
	}
	slices.Sort(ns)
	return ns
}

// MonthNames returns the names of the partitions of every managed table
// (Tables) for the months, sorted.
func MonthNames(months ...time.Time) []string {
	var ns []string
	for _, t := range Tables {
		for _, m := range months {
			ns = append(ns, PartitionName(t, m))
		}
	}
	slices.Sort(ns)
	return ns
}
