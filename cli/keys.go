package cli

import (
	"context"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/shortify/shortify/client"
)

func init() {
	Register(Spec{
		Name:  "keys",
		Usage: "list|create|revoke",
		Short: "Lists, creates and revokes API keys",
		Long: `Manages API keys (an admin key's work): a workspace admin sees and makes
the keys of its workspace, an instance admin every key. A new key's secret
is printed once.`,
		Build: func(cmd *cobra.Command, e *Env) { cmd.AddCommand(keysList(e), keysCreate(e), keysRevoke(e)) },
	})
}

func keysList(e *Env) *cobra.Command {
	cmd := &cobra.Command{Use: "list", Short: "Lists the keys the caller administers", Args: e.args()}
	cmd.RunE = e.run(func(ctx context.Context, cmd *cobra.Command, _ []string) error {
		c, err := e.Client(cmd)
		if err != nil {
			return err
		}
		keys, err := c.ListKeys(ctx)
		if err != nil {
			return err
		}
		if e.Options(cmd).JSON {
			if keys == nil {
				keys = []client.KeyInfo{}
			}
			return writeJSON(e.Stdout, keys)
		}
		t := NewTable(e.Stdout, "ID", "NAME", "ROLE", "WORKSPACE", "CREATED", "STATE")
		for _, k := range keys {
			t.Row(k.ID, k.Name, k.Role, keyWorkspace(k), shortTime(k.CreatedAt), keyState(k.Revoked))
		}
		return t.Flush()
	})
	return cmd
}

// keyWorkspace says which workspace a key acts in.
func keyWorkspace(k client.KeyInfo) string {
	if k.InstanceAdmin || k.Workspace == 0 {
		return "(instance)"
	}
	return strconv.FormatInt(k.Workspace, 10)
}

func keyState(revoked bool) string {
	if revoked {
		return "revoked"
	}
	return "active"
}

func keysCreate(e *Env) *cobra.Command {
	var req client.CreateKeyRequest
	cmd := &cobra.Command{
		Use:     "create --name NAME --role admin|creator|viewer",
		Short:   "Makes an API key (its secret is printed once)",
		Example: `  shortify keys create --name "ci bot" --role creator --workspace acme`,
		Args:    e.args(),
	}
	cmd.Flags().StringVar(&req.Name, "name", "", "whose the key is, for the list (required)")
	cmd.Flags().StringVar(&req.Role, "role", "", "admin, creator (makes links) or viewer (reads) (required)")
	cmd.RunE = e.run(func(ctx context.Context, cmd *cobra.Command, _ []string) error {
		if req.Name == "" || req.Role == "" {
			return Usage("keys create needs --name and --role")
		}
		// The new key belongs to the workspace the command acts in.
		req.Workspace = e.Options(cmd).Workspace
		c, err := e.Client(cmd)
		if err != nil {
			return err
		}
		k, err := c.CreateKey(ctx, req)
		if err != nil {
			return err
		}
		if e.Options(cmd).JSON {
			return writeJSON(e.Stdout, k)
		}
		if err := fields(e.Stdout, "Key", k.Key, "ID", k.ID, "Name", k.Name, "Role", k.Role, "Workspace", keyWorkspace(k.KeyInfo)); err != nil {
			return err
		}
		fmt.Fprintln(e.Stderr, "The key is shown this once: store it now.")
		return nil
	})
	return cmd
}

func keysRevoke(e *Env) *cobra.Command {
	cmd := &cobra.Command{Use: "revoke ID", Short: "Revokes a key at once", Args: e.args("ID")}
	cmd.RunE = e.run(func(ctx context.Context, cmd *cobra.Command, args []string) error {
		c, err := e.Client(cmd)
		if err != nil {
			return err
		}
		if err := c.RevokeKey(ctx, args[0]); err != nil {
			return err
		}
		if e.Options(cmd).JSON {
			return writeJSON(e.Stdout, map[string]any{"id": args[0], "revoked": true})
		}
		fmt.Fprintf(e.Stdout, "revoked %s\n", args[0])
		return nil
	})
	return cmd
}
