// Package faults records the figure of a fault test (issue 18's fault
// suite) so that `make faults` can print one table of every fault: what
// was done, what was expected and what was measured.
//
// A fault test is a Go test named TestFault<NN><Name> (NN the fault's
// number in docs/faults.md, two digits). Quick ones run in `make test`
// like any test; ones that take minutes carry the build tag `faults` and
// run only in `make faults`. Either way the test asserts its bounds itself
// (it fails when they are not met) and calls Record once with the figure
// it measured; Record also logs the row, so `go test -v` shows it.
//
// The table is gathered by bench/faults: it runs the tests with
// SHORTIFY_FAULTS_REPORT naming a file, to which Record appends one JSON
// line per row, and joins the rows with the tests' pass or fail.
package faults

import (
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"testing"
)

// ReportEnv names the file Record appends to; unset, Record only logs.
const ReportEnv = "SHORTIFY_FAULTS_REPORT"

// Row is one line of the fault table.
type Row struct {
	// Test is the test's name (t.Name()); Record fills it in.
	Test string `json:"test"`
	// Fault says what was done, for example "broker down 60 s at 2,000 redirects/s".
	Fault string `json:"fault"`
	// Expected is the bound the test asserts, for example "p99 during ≤ 2× before; 0 duplicated".
	Expected string `json:"expected"`
	// Measured is the figure, for example "p99 1.8 ms → 2.1 ms (1.17×); 41,200 dropped = counter".
	Measured string `json:"measured"`
}

var mu sync.Mutex // one write at a time within a test binary

// Record logs row and, when ReportEnv is set, appends it to that file. It
// fails the test if the file cannot be written, since a figure that does
// not reach the table is a lost figure.
func Record(t testing.TB, row Row) {
	t.Helper()
	row.Test = t.Name()
	t.Logf("fault figure: %s | expected: %s | measured: %s", row.Fault, row.Expected, row.Measured)
	path := os.Getenv(ReportEnv)
	if path == "" {
		return
	}
	line, err := json.Marshal(row)
	if err != nil {
		t.Fatalf("faults: encode row: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatalf("faults: open report %s: %v", path, err)
	}
	defer f.Close()
	if _, err := fmt.Fprintf(f, "%s\n", line); err != nil {
		t.Fatalf("faults: write report %s: %v", path, err)
	}
}
