package controlplane

import (
	"errors"
	"fmt"
	"strings"

	"github.com/shortify/shortify/controlplane/clustertls"
	"github.com/shortify/shortify/internal/secret"
)

// errClusterSecret refuses a config that still sets cluster_secret, whose
// shared string was an admin credential in effect.
var errClusterSecret = errors.New("shortify: cluster_secret was removed: members now prove membership with mutual TLS from a cluster CA. " +
	"Remove cluster_secret and set cluster_ca, cluster_cert and cluster_key on every node (make them with " +
	"`shortify cluster-ca --dir DIR` once and `shortify cluster-cert --dir DIR --name NODE --host NAME,IP` per node), " +
	"cluster_listen for the internal listener, and api_addr/join as https URLs of it")

// resolveCluster expands the placeholders ({env.X}, {file.X}) of the
// cluster settings, so that the adapted config keeps the placeholder. A
// placeholder that expands to nothing, or is left unexpanded, is an error
// naming the setting: a node must not start as a one-node cluster because
// a variable was not set.
func (a *App) resolveCluster() error {
	for _, s := range []struct {
		name string
		v    *string
	}{
		{"cluster_ca", &a.ClusterCA}, {"cluster_cert", &a.ClusterCert}, {"cluster_key", &a.ClusterKey},
		{"cluster_listen", &a.ClusterListen}, {"api_addr", &a.APIAddr},
	} {
		raw := *s.v
		if !strings.Contains(raw, "{") {
			continue
		}
		v := secret.Resolve(raw)
		if v == "" || strings.Contains(v, "{") {
			return fmt.Errorf("shortify: %s is %q, which did not resolve (an unset variable or a missing file): set it, or remove %s", s.name, raw, s.name)
		}
		*s.v = v
	}
	return nil
}

// clusterFiles are the cluster TLS settings.
func (a *App) clusterFiles() clustertls.Files {
	return clustertls.Files{CA: a.ClusterCA, Cert: a.ClusterCert, Key: a.ClusterKey}
}
