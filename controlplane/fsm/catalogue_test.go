package fsm

import (
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
)

func (a *applier) record(c RecordPartitions) *CatalogueResult { return applyAs[*CatalogueResult](a, c) }

func rec(name string, state PartitionState) PartitionRecord {
	return PartitionRecord{Table: "clicks", Name: name, FromMs: 1_000, ToMs: 2_000, State: state}
}

func TestRecordPartitions(t *testing.T) {
	a := newApplier(t)
	if r := a.record(RecordPartitions{AtMs: 10, Partitions: []PartitionRecord{rec("clicks_a", PartitionCreated), rec("clicks_b", PartitionCreated)}}); r.Err != nil || r.Changed != 2 {
		t.Fatalf("record = %+v", r)
	}
	// The same state again changes nothing, not even the time.
	if r := a.record(RecordPartitions{AtMs: 20, Partitions: []PartitionRecord{rec("clicks_a", PartitionCreated)}}); r.Err != nil || r.Changed != 0 {
		t.Fatalf("re-record = %+v", r)
	}
	if r := a.record(RecordPartitions{AtMs: 30, Partitions: []PartitionRecord{rec("clicks_a", PartitionDetached)}}); r.Err != nil || r.Changed != 1 {
		t.Fatalf("detach = %+v", r)
	}
	want := []PartitionRecord{
		{Table: "clicks", Name: "clicks_a", FromMs: 1_000, ToMs: 2_000, State: PartitionDetached, ChangedMs: 30},
		{Table: "clicks", Name: "clicks_b", FromMs: 1_000, ToMs: 2_000, State: PartitionCreated, ChangedMs: 10},
	}
	if got := a.f.PartitionCatalogue(); !reflect.DeepEqual(got, want) {
		t.Fatalf("catalogue\n got %+v\nwant %+v", got, want)
	}

	// Refused commands change nothing, even their valid records.
	bad := map[string]RecordPartitions{
		"no time":       {Partitions: []PartitionRecord{rec("clicks_c", PartitionCreated)}},
		"no records":    {AtMs: 40},
		"empty range":   {AtMs: 40, Partitions: []PartitionRecord{rec("clicks_c", PartitionCreated), {Table: "clicks", Name: "clicks_d", FromMs: 5, ToMs: 5, State: PartitionCreated}}},
		"bad state":     {AtMs: 40, Partitions: []PartitionRecord{rec("clicks_c", "archived")}},
		"bad name":      {AtMs: 40, Partitions: []PartitionRecord{rec("Clicks; DROP", PartitionCreated)}},
		"bad table":     {AtMs: 40, Partitions: []PartitionRecord{{Table: "", Name: "x", FromMs: 1, ToMs: 2, State: PartitionCreated}}},
		"digit first":   {AtMs: 40, Partitions: []PartitionRecord{rec("1clicks", PartitionCreated)}},
		"twice":         {AtMs: 40, Partitions: []PartitionRecord{rec("clicks_c", PartitionCreated), rec("clicks_c", PartitionDropped)}},
		"too many":      {AtMs: 40, Partitions: make([]PartitionRecord, MaxRecordsPerCommand+1)},
		"name too long": {AtMs: 40, Partitions: []PartitionRecord{rec(strings.Repeat("p", 64), PartitionCreated)}},
	}
	for name, c := range bad {
		if r := a.record(c); r.Err == nil {
			t.Errorf("%s: accepted", name)
		} else {
			checkErr(t, r.Err, ErrInvalidCommand)
		}
	}
	if got := a.f.PartitionCatalogue(); !reflect.DeepEqual(got, want) {
		t.Fatalf("a refused command changed the catalogue: %+v", got)
	}
}

func TestCatalogueBound(t *testing.T) {
	a := newApplier(t)
	for i := 0; i < MaxCatalogue; i += MaxRecordsPerCommand {
		recs := make([]PartitionRecord, MaxRecordsPerCommand)
		for j := range recs {
			recs[j] = rec(fmt.Sprintf("p%06d", i+j), PartitionCreated)
		}
		if r := a.record(RecordPartitions{AtMs: 1, Partitions: recs}); r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	r := a.record(RecordPartitions{AtMs: 2, Partitions: []PartitionRecord{rec("one_more", PartitionCreated)}})
	checkErr(t, r.Err, ErrInvalidCommand)
	// A known partition can still change state when the catalogue is full.
	if r := a.record(RecordPartitions{AtMs: 2, Partitions: []PartitionRecord{rec("p000001", PartitionDropped)}}); r.Err != nil {
		t.Fatal(r.Err)
	}
}

// A snapshot keeps the catalogue; a version 5 one restores without it.
func TestCatalogueSnapshot(t *testing.T) {
	a := newApplier(t)
	a.record(RecordPartitions{AtMs: 10, Partitions: []PartitionRecord{rec("clicks_b", PartitionDropped), rec("clicks_a", PartitionCreated)}})
	sink := persist(t, a.f)
	if !strings.Contains(sink.String(), `"version":6`) {
		t.Fatalf("snapshot is not version 6: %s", sink.String())
	}
	b := newApplier(t)
	if err := b.f.Restore(io.NopCloser(&sink.Buffer)); err != nil {
		t.Fatal(err)
	}
	if got, want := b.f.PartitionCatalogue(), a.f.PartitionCatalogue(); !reflect.DeepEqual(got, want) || len(got) != 2 {
		t.Fatalf("restored catalogue %+v, want %+v", got, want)
	}
	v5 := `{"version":5,"next_sequence":7,"partition_policy":{"months_ahead":3,"retention_days":400}}`
	if err := b.f.Restore(io.NopCloser(strings.NewReader(v5))); err != nil {
		t.Fatal(err)
	}
	if got := b.f.PartitionCatalogue(); got != nil {
		t.Fatalf("a version 5 snapshot restored catalogue %+v", got)
	}
	if p, ok := b.f.PartitionPolicy(); !ok || p.MonthsAhead != 3 || b.f.NextSequence() != 7 {
		t.Fatalf("version 5 snapshot restored policy %+v %v, sequence %d", p, ok, b.f.NextSequence())
	}
}
