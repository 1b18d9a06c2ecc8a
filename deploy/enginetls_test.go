package deploy_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/shortify/shortify/internal/l2cache"
	"github.com/shortify/shortify/internal/testkit/testenv"
)

// TestKubernetesEngineTLS: every Shortify pod reaches PostgreSQL with
// sslmode=verify-full and Redis over rediss://, both trusting a CA file
// that is mounted in the pod (issue 12, finding 5), and pgx and go-redis
// accept the settings as written (with a real CA file in place of the
// mounted one).
func TestKubernetesEngineTLS(t *testing.T) {
	m := loadManifests(t)
	ca := testenv.NewCA(t, "engine test CA")
	checkCA := func(where string, w workload, path string) {
		t.Helper()
		if kind, name, key := mountedFrom(w, path); kind == "" {
			t.Errorf("%s: the CA file %s is not mounted in the pod", where, path)
		} else {
			checkKey(t, m, where, kind, name, key)
		}
	}
	dsns := 0
	for _, w := range m.workloads() {
		role, env, _ := k8sRole(t, m, w)
		if role == "" || role == "frontdoor" {
			continue
		}
		podEnv := resolveEnv(t, m, w, w.name+"-0", env)
		for _, name := range []string{"SHORTIFY_DATABASE_URL", "SHORTIFY_READ_REPLICAS", "SHORTIFY_STATS_DATABASE_URL"} {
			for _, dsn := range strings.Fields(podEnv[name]) {
				dsns++
				where := w.name + " " + name
				u, err := url.Parse(dsn)
				if err != nil {
					t.Errorf("%s: %v", where, err)
					continue
				}
				q := u.Query()
				if q.Get("sslmode") != "verify-full" || q.Get("sslrootcert") == "" {
					t.Errorf("%s: sslmode %q, sslrootcert %q; want verify-full with a CA file", where, q.Get("sslmode"), q.Get("sslrootcert"))
					continue
				}
				checkCA(where, w, q.Get("sslrootcert"))
				q.Set("sslrootcert", ca.CertFile)
				u.RawQuery = q.Encode()
				if _, err := pgx.ParseConfig(u.String()); err != nil {
					t.Errorf("%s: pgx refuses the DSN: %v", where, err)
				}
			}
		}
		redis := podEnv["SHORTIFY_REDIS"]
		if redis == "" {
			continue
		}
		where := w.name + " SHORTIFY_REDIS"
		u, err := url.Parse(redis)
		if err != nil || u.Scheme != "rediss" {
			t.Errorf("%s = %q: want a rediss:// URL (%v)", where, redis, err)
			continue
		}
		q := u.Query()
		checkCA(where, w, q.Get(l2cache.CAFileParam))
		q.Set(l2cache.CAFileParam, ca.CertFile)
		u.RawQuery = q.Encode()
		o, err := l2cache.ParseURL(u.String())
		if err != nil {
			t.Errorf("%s: %v", where, err)
		} else if o.Cluster == nil || len(o.Cluster.Addrs) != 3 {
			t.Errorf("%s: want a Redis Cluster URL with 3 seeds, got %+v", where, o)
		}
	}
	if dsns < 5 {
		t.Errorf("checked %d DSNs; the manifests' pods should have at least 5", dsns)
	}
}
