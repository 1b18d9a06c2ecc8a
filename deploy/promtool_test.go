package deploy_test

import (
	"os/exec"
	"path/filepath"
	"testing"
)

// TestPrometheusWithPromtool checks prometheus.yml and rules.yml with
// Prometheus's own promtool, which parses every PromQL expression, and
// runs the alerting rules' unit tests (prometheus/rules_test.yml: each
// alert fires on the series that should fire it, after its "for", and a
// healthy cluster fires none). Debian's promtool is older than the
// compose stack's Prometheus; the files use nothing newer.
func TestPrometheusWithPromtool(t *testing.T) {
	t.Parallel()
	promtool := ensurePromtool(t)
	for _, args := range [][]string{
		{"check", "config", "--syntax-only", "prometheus.yml"},
		{"check", "rules", "rules.yml"},
		{"test", "rules", "rules_test.yml"},
	} {
		cmd := exec.CommandContext(t.Context(), promtool, args...)
		cmd.Dir = "prometheus"
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %v: %v\n%s", args, err, out)
		}
	}
}

// ensurePromtool returns promtool on PATH, installed by
// scripts/ensure-promtool.sh when missing.
func ensurePromtool(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("promtool"); err == nil {
		return p
	}
	cmd := exec.Command(filepath.Join(repoRoot, "scripts", "ensure-promtool.sh"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/ensure-promtool.sh: %v\n%s", err, out)
	}
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool is not on PATH after scripts/ensure-promtool.sh: %v", err)
	}
	return p
}
