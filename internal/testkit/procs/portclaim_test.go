package procs

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

func TestClaim(t *testing.T) {
	dir := claimDir
	claimDir = t.TempDir()
	t.Cleanup(func() { claimDir = dir })

	if !Claim(20001) {
		t.Fatal("the first claim of a port failed")
	}
	if Claim(20001) {
		t.Fatal("a port claimed a moment ago was claimed again")
	}
	if !Claim(20002) {
		t.Fatal("another port could not be claimed")
	}
	// A claim older than claimTTL is stale: its process is long gone.
	old := time.Now().Add(-claimTTL - time.Minute)
	if err := os.Chtimes(filepath.Join(claimDir, strconv.Itoa(20001)), old, old); err != nil {
		t.Fatal(err)
	}
	if !Claim(20001) {
		t.Fatal("a stale claim kept its port")
	}
	if Claim(20001) {
		t.Fatal("the renewed claim was taken again")
	}
}

func TestFreePortsAreClaimed(t *testing.T) {
	dir := claimDir
	claimDir = t.TempDir()
	t.Cleanup(func() { claimDir = dir })

	seen := map[int]bool{}
	for range 50 {
		p, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		if seen[p] {
			t.Fatalf("port %d given twice", p)
		}
		seen[p] = true
		if Claim(p) {
			t.Fatalf("port %d was given but not claimed", p)
		}
	}
}
