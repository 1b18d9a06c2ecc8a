package partitions

import (
	"slices"
	"testing"
	"time"
)

func TestMonthArithmetic(t *testing.T) {
	t.Parallel()
	utc := func(y int, m time.Month, d, h, min, s, ns int) time.Time {
		return time.Date(y, m, d, h, min, s, ns, time.UTC)
	}
	plus1 := time.FixedZone("UTC+1", 3600)
	minus5 := time.FixedZone("UTC-5", -5*3600)
	tests := []struct {
		name      string
		t         time.Time
		wantStart time.Time
		wantNext  time.Time
		wantName  string // of the clicks partition holding t
	}{
		{"mid month", utc(2026, 11, 15, 12, 0, 0, 0), utc(2026, 11, 1, 0, 0, 0, 0), utc(2026, 12, 1, 0, 0, 0, 0), "clicks_y2026m11"},
		{"first instant", utc(2026, 11, 1, 0, 0, 0, 0), utc(2026, 11, 1, 0, 0, 0, 0), utc(2026, 12, 1, 0, 0, 0, 0), "clicks_y2026m11"},
		{"last nanosecond", utc(2026, 11, 30, 23, 59, 59, 999_999_999), utc(2026, 11, 1, 0, 0, 0, 0), utc(2026, 12, 1, 0, 0, 0, 0), "clicks_y2026m11"},
		{"december to january", utc(2026, 12, 31, 23, 59, 59, 0), utc(2026, 12, 1, 0, 0, 0, 0), utc(2027, 1, 1, 0, 0, 0, 0), "clicks_y2026m12"},
		{"january", utc(2027, 1, 1, 0, 0, 0, 0), utc(2027, 1, 1, 0, 0, 0, 0), utc(2027, 2, 1, 0, 0, 0, 0), "clicks_y2027m01"},
		{"leap february", utc(2028, 2, 29, 12, 0, 0, 0), utc(2028, 2, 1, 0, 0, 0, 0), utc(2028, 3, 1, 0, 0, 0, 0), "clicks_y2028m02"},
		// Local midnight of 1 December east of UTC is still November in UTC.
		{"east of UTC", time.Date(2026, 12, 1, 0, 30, 0, 0, plus1), utc(2026, 11, 1, 0, 0, 0, 0), utc(2026, 12, 1, 0, 0, 0, 0), "clicks_y2026m11"},
		// Local evening of 31 December west of UTC is already January in UTC.
		{"west of UTC", time.Date(2026, 12, 31, 20, 0, 0, 0, minus5), utc(2027, 1, 1, 0, 0, 0, 0), utc(2027, 2, 1, 0, 0, 0, 0), "clicks_y2027m01"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			start := MonthStart(tt.t)
			if !start.Equal(tt.wantStart) || start.Location() != time.UTC {
				t.Errorf("MonthStart(%s) = %s, want %s in UTC", tt.t, start, tt.wantStart)
			}
			if next := AddMonths(start, 1); !next.Equal(tt.wantNext) {
				t.Errorf("AddMonths(%s, 1) = %s, want %s", start, next, tt.wantNext)
			}
			if tt.t.Before(start) || !tt.t.Before(AddMonths(start, 1)) {
				t.Errorf("%s is outside [%s, %s)", tt.t, start, AddMonths(start, 1))
			}
			if got := PartitionName("clicks", start); got != tt.wantName {
				t.Errorf("PartitionName = %q, want %q", got, tt.wantName)
			}
		})
	}
}

func TestAddMonths(t *testing.T) {
	t.Parallel()
	nov := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		n    int
		want string
	}{
		{0, "2026-11"}, {1, "2026-12"}, {2, "2027-01"}, {14, "2028-01"},
		{-1, "2026-10"}, {-11, "2025-12"}, {-23, "2024-12"}, {24, "2028-11"},
	}
	for _, tt := range tests {
		if got := AddMonths(nov, tt.n).Format("2006-01"); got != tt.want {
			t.Errorf("AddMonths(2026-11, %d) = %s, want %s", tt.n, got, tt.want)
		}
	}
	// A time inside a month counts as its month.
	if got := AddMonths(time.Date(2026, 1, 31, 23, 0, 0, 0, time.UTC), 1); !got.Equal(time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("AddMonths(31 January, 1) = %s, want 1 February", got)
	}
}

func TestMonthsFrom(t *testing.T) {
	t.Parallel()
	got := MonthsFrom(time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), 3)
	want := []string{"2026-11", "2026-12", "2027-01", "2027-02"}
	if len(got) != len(want) {
		t.Fatalf("MonthsFrom = %v, want %v", got, want)
	}
	for i := range want {
		if got[i].Format("2006-01") != want[i] || got[i].Day() != 1 || got[i].Hour() != 0 {
			t.Errorf("MonthsFrom[%d] = %s, want the start of %s", i, got[i], want[i])
		}
	}
	if got := MonthsFrom(time.Now(), 0); len(got) != 1 {
		t.Errorf("MonthsFrom(now, 0) has %d months, want 1", len(got))
	}
}

func TestParsePartitionName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		wantTable string
		wantMonth string
		ok        bool
	}{
		{"clicks_y2026m11", "clicks", "2026-11", true},
		{"clicks_hourly_dims_y2027m01", "clicks_hourly_dims", "2027-01", true},
		{"clicks_y2026m13", "", "", false},
		{"clicks_y2026m00", "", "", false},
		{"clicks_y0000m01", "", "", false},
		{"clicks_y2026m1", "", "", false},
		{"clicks_y+026m01", "", "", false},
		{"_y2026m01", "", "", false},
		{"links_p03", "", "", false},
		{"clicks", "", "", false},
	}
	for _, tt := range tests {
		table, month, ok := ParsePartitionName(tt.name)
		if ok != tt.ok || table != tt.wantTable || (ok && month.Format("2006-01") != tt.wantMonth) {
			t.Errorf("ParsePartitionName(%q) = %q, %s, %v; want %q, %s, %v", tt.name, table, month, ok, tt.wantTable, tt.wantMonth, tt.ok)
		}
		if ok {
			if back := PartitionName(table, month); back != tt.name {
				t.Errorf("PartitionName(ParsePartitionName(%q)) = %q", tt.name, back)
			}
		}
	}
}

func TestParseBounds(t *testing.T) {
	t.Parallel()
	from, to := parseRangeBounds("FOR VALUES FROM ('2026-11-01 00:00:00+00') TO ('2026-12-01 00:00:00+00')")
	if !from.Equal(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)) || !to.Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("range bounds = %s, %s", from, to)
	}
	from, to = parseRangeBounds("FOR VALUES FROM (MINVALUE) TO ('2026-12-01 05:30:00.25+05:30')")
	if !from.IsZero() || !to.Equal(time.Date(2026, 12, 1, 0, 0, 0, 250_000_000, time.UTC)) {
		t.Errorf("MINVALUE range bounds = %s, %s", from, to)
	}
	if from, to = parseRangeBounds("FOR VALUES FROM (1, 'a') TO (2, 'b')"); !from.IsZero() || !to.IsZero() {
		t.Errorf("two-column bounds parsed as times: %s, %s", from, to)
	}
	if m, r := parseHashBounds("FOR VALUES WITH (modulus 16, remainder 3)"); m != 16 || r != 3 {
		t.Errorf("hash bounds = %d, %d", m, r)
	}
	if m, r := parseHashBounds("DEFAULT"); m != 0 || r != 0 {
		t.Errorf("DEFAULT parsed as hash bounds %d, %d", m, r)
	}
}

func TestNamesAndMonthNames(t *testing.T) {
	nov := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	got := Names([]Partition{{Name: "b"}, {Name: "a"}})
	if !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("Names = %v, want sorted [a b]", got)
	}
	months := MonthNames(nov, nov.AddDate(0, 1, 0))
	if len(months) != 2*len(Tables) || !slices.IsSorted(months) {
		t.Fatalf("MonthNames = %v: want %d sorted names", months, 2*len(Tables))
	}
	if !slices.Contains(months, PartitionName(Tables[0], nov)) {
		t.Errorf("MonthNames = %v, missing %s", months, PartitionName(Tables[0], nov))
	}
}
