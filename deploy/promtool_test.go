package deploy_test

import (
	"os/exec"
	"testing"

	"github.com/shortify/shortify/internal/testkit/testenv"
)

// TestPrometheusWithPromtool checks prometheus.yml and rules.yml with
// Prometheus's own promtool, which parses every PromQL expression, and
// runs the alerting rules' unit tests (prometheus/rules_test.yml: each
// alert fires on the series that should fire it, after its "for", and a
// healthy cluster fires none). Debian's promtool is older than the
// compose stack's Prometheus; the files use nothing newer.
func TestPrometheusWithPromtool(t *testing.T) {
	t.Parallel()
	promtool := testenv.Command(t, "promtool", "prometheus")
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
