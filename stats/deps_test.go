package stats

import (
	"os/exec"
	"strings"
	"testing"
)

// TestStatsStandsOnItsOwn: nothing under stats/ depends on the control
// plane or on Raft. Stats reaches the control plane's settings and key ring
// through small interfaces (ControlPlane, handler.ControlPlane), shares key
// authentication and query checking through internal/apiauth and
// internal/apiquery, and owns its schema (stats/partitions), so a stats
// binary or a change to the control plane never drags in the other.
func TestStatsStandsOnItsOwn(t *testing.T) {
	t.Parallel()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list the dependencies: %v", err)
	}
	out, err := exec.CommandContext(t.Context(), goBin, "list", "-deps", "github.com/shortify/shortify/stats/...").Output()
	if err != nil {
		t.Fatalf("go list -deps ./stats/...: %v", err)
	}
	for dep := range strings.Lines(string(out)) {
		dep = strings.TrimSpace(dep)
		if strings.HasPrefix(dep, "github.com/shortify/shortify/controlplane") || strings.Contains(dep, "hashicorp/raft") {
			t.Errorf("stats depends on %s", dep)
		}
	}
}
