package dualsql

import (
	"testing"
	"time"
)

func TestBind(t *testing.T) {
	at := time.Date(2026, 12, 5, 6, 0, 0, 1000, time.UTC)
	stmt, args := Bind(false, "SELECT $1, $2", []any{at, 1})
	if stmt != "SELECT $1, $2" || args[0] != at {
		t.Errorf("PostgreSQL: %q %v", stmt, args)
	}
	stmt, args = Bind(true, "SELECT $1, $12, $1", []any{at, 1})
	if stmt != "SELECT ?1, ?12, ?1" || args[0] != at.UnixMicro() || args[1] != 1 {
		t.Errorf("SQLite: %q %v", stmt, args)
	}
	if NullTime(time.Time{}) != nil || NullTime(at) != at {
		t.Error("NullTime")
	}
}

func TestTime(t *testing.T) {
	at := time.Date(2026, 12, 5, 6, 0, 0, 1000, time.UTC)
	var got time.Time
	for _, v := range []any{at.In(time.FixedZone("x", 3600)), at.UnixMicro()} {
		if err := (Time{&got}).Scan(v); err != nil || !got.Equal(at) || got.Location() != time.UTC {
			t.Errorf("Scan(%v) = %v, %v", v, got, err)
		}
	}
	if err := (Time{&got}).Scan(nil); err != nil || !got.IsZero() {
		t.Errorf("Scan(nil) = %v, %v", got, err)
	}
	if err := (Time{&got}).Scan("x"); err == nil {
		t.Error("a string read as a time")
	}
}
