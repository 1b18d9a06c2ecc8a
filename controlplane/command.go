package controlplane

import (
	"fmt"

	caddycmd "github.com/caddyserver/caddy/v2/cmd"

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
}
