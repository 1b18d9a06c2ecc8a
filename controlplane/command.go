package controlplane

import (
	"cmp"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/caddyserver/caddy/v2"
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	"github.com/spf13/cobra"

	"github.com/shortify/shortify/controlplane/clustertls"
	"github.com/shortify/shortify/internal/apikey"
)

func init() {
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "new-api-key",
		Short: "Prints a new random Shortify API key",
		Long: `Prints a new random API key in Shortify's format (sk_<id>_<secret>).
Use it as SHORTIFY_INITIAL_API_KEY (the initial_api_key option) so that a new
cluster's first admin key is one you chose. Keys for running clusters are
made through POST /api/v1/admin/keys instead.`,
		Func: func(caddycmd.Flags) (int, error) {
			k, err := apikey.New()
			if err != nil {
				return 1, err
			}
			fmt.Println(k.Secret)
			return 0, nil
		},
	})
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "cluster-ca",
		Usage: "--dir <dir> [--name <name>] [--validity <duration>] [--if-missing]",
		Short: "Makes a control-plane cluster CA",
		Long: `Makes a new cluster CA (ECDSA P-256) for the mutual TLS between control-plane
nodes: DIR/ca.crt (every node's cluster_ca) and DIR/ca.key (0600; keep it off
the nodes). It refuses to overwrite an existing CA; with --if-missing it keeps
one and succeeds (for init containers that run on every start). Then make each
node's certificate with cluster-cert.`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.Flags().String("dir", "", "Directory to write ca.crt and ca.key into (required)")
			cmd.Flags().String("name", "Shortify cluster CA", "The CA's common name")
			cmd.Flags().Duration("validity", clustertls.DefaultCAValidity, "How long the CA is valid")
			cmd.Flags().Bool("if-missing", false, "Keep an existing CA in --dir instead of failing")
			cmd.RunE = caddycmd.WrapCommandFuncForCobra(cmdClusterCA)
		},
	})
	caddycmd.RegisterCommand(caddycmd.Command{
		Name:  "cluster-cert",
		Usage: "--dir <dir> --name <node> --host <name,ip,...> [--out <dir>] [--validity <duration>]",
		Short: "Makes a control-plane node certificate signed by the cluster CA",
		Long: `Issues a node certificate (ECDSA P-256, client and server use) signed by the
cluster CA in DIR (see cluster-ca): NAME.crt (cluster_cert) and NAME.key (0600,
cluster_key), in DIR or --out, with a copy of ca.crt there (cluster_ca) when
--out is another directory, so that the CA key need not be where the nodes
read their files. --host lists, comma-separated, every host name and IP
address other nodes dial this node by (its raft_advertise and api_addr hosts).
Running it again renews the certificate.`,
		CobraFunc: func(cmd *cobra.Command) {
			cmd.Flags().String("dir", "", "Directory of the cluster CA; the certificate is written there (required)")
			cmd.Flags().String("name", "", "Node name: the certificate's common name and file names (required)")
			cmd.Flags().String("host", "", "Comma-separated host names and IP addresses the certificate covers (required)")
			cmd.Flags().String("out", "", "Directory to write the certificate, its key and ca.crt into (default: --dir)")
			cmd.Flags().Duration("validity", clustertls.DefaultCertValidity, "How long the certificate is valid")
			cmd.RunE = caddycmd.WrapCommandFuncForCobra(cmdClusterCert)
		},
	})
}

func cmdClusterCA(fl caddycmd.Flags) (int, error) {
	dir := fl.String("dir")
	if dir == "" {
		return usageError("cluster-ca needs --dir")
	}
	if fl.Bool("if-missing") {
		if _, err := clustertls.LoadCA(dir); err == nil {
			fmt.Printf("kept the cluster CA in %s\n", dir)
			return 0, nil
		}
	}
	ca, err := clustertls.NewCA(fl.String("name"), fl.Duration("validity"))
	if err != nil {
		return 1, err
	}
	if err := ca.WriteCA(dir); err != nil {
		return 1, err
	}
	fmt.Printf("wrote %s and %s\n", filepath.Join(dir, clustertls.CACertFile), filepath.Join(dir, clustertls.CAKeyFile))
	return 0, nil
}

func cmdClusterCert(fl caddycmd.Flags) (int, error) {
	dir, name, hosts := fl.String("dir"), fl.String("name"), splitList(fl.String("host"))
	if dir == "" || name == "" || len(hosts) == 0 {
		return usageError("cluster-cert needs --dir, --name and --host")
	}
	out := cmp.Or(fl.String("out"), dir)
	ca, err := clustertls.LoadCA(dir)
	if err != nil {
		return 1, err
	}
	if err := ca.WriteCert(out, name, hosts, fl.Duration("validity")); err != nil {
		return 1, err
	}
	if out != dir {
		if err := ca.WriteCACert(out); err != nil {
			return 1, err
		}
	}
	fmt.Printf("wrote %s and %s for %s\n", filepath.Join(out, clustertls.CertFile(name)), filepath.Join(out, clustertls.KeyFile(name)), strings.Join(hosts, ", "))
	return 0, nil
}

// usageError answers a command line missing a required flag.
func usageError(msg string) (int, error) {
	return caddy.ExitCodeFailedStartup, fmt.Errorf("%s (see --help)", msg)
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
