package kafkabroker

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// User is a SASL user of the broker (SCRAM-SHA-256 and SCRAM-SHA-512) and
// what the ACLs let it do. Any user turns authentication and ACLs on:
// every client must then log in, and may do only what its user is
// allowed (describing a topic comes with reading or writing it).
type User struct {
	// Name and Password are the credentials.
	Name     string
	Password string
	// Superuser users bypass the ACLs.
	Superuser bool
	// Read are the topics the user may consume; Write those it may
	// produce to (which also lets an idempotent producer start).
	Read, Write []string
	// Groups are the consumer groups the user may join and commit in.
	Groups []string
}

// Mechanisms are the SASL mechanisms the broker offers every user.
var Mechanisms = []string{"SCRAM-SHA-256", "SCRAM-SHA-512"}

// acls are the ACLs of u.
func (u User) acls() []kfake.ACL {
	var acls []kfake.ACL
	add := func(typ kmsg.ACLResourceType, op kmsg.ACLOperation, names []string) {
		for _, n := range names {
			acls = append(acls, kfake.ACL{Resource: typ, Name: n, Pattern: kmsg.ACLResourcePatternTypeLiteral, Operation: op, Allow: true})
		}
	}
	add(kmsg.ACLResourceTypeTopic, kmsg.ACLOperationRead, u.Read)
	add(kmsg.ACLResourceTypeTopic, kmsg.ACLOperationWrite, u.Write)
	add(kmsg.ACLResourceTypeGroup, kmsg.ACLOperationRead, u.Groups)
	return acls
}

// validateUsers checks names and passwords (the caller checks their
// strength: the Caddy app with secret.Check).
func validateUsers(users []User) error {
	seen := make(map[string]bool)
	for _, u := range users {
		switch {
		case u.Name == "":
			return errors.New("kafkabroker: a user without a name")
		case u.Password == "":
			return fmt.Errorf("kafkabroker: user %q has an empty password", u.Name)
		case seen[u.Name]:
			return fmt.Errorf("kafkabroker: user %q listed twice", u.Name)
		}
		seen[u.Name] = true
	}
	return nil
}

// securityOpts are the kfake options of cfg's users and TLS.
func securityOpts(cfg Config) []kfake.Opt {
	var opts []kfake.Opt
	if cfg.TLS != nil {
		opts = append(opts, kfake.TLS(cfg.TLS))
	}
	if len(cfg.Users) == 0 {
		return opts
	}
	opts = append(opts, kfake.EnableSASL(), kfake.EnableACLs())
	for _, u := range cfg.Users {
		for i, m := range Mechanisms {
			switch {
			case u.Superuser:
				opts = append(opts, kfake.Superuser(m, u.Name, u.Password))
			case i == 0: // the ACLs once, with the first mechanism
				opts = append(opts, kfake.User(m, u.Name, u.Password, u.acls()...))
			default:
				opts = append(opts, kfake.User(m, u.Name, u.Password))
			}
		}
	}
	return opts
}

// resetSecurityState makes the configuration the only source of users and
// ACLs in a data directory written before: kfake reloads both from the
// directory and would keep an old password (a rotation) or old ACLs (a
// revocation) over the configured ones, and it applies configured ACLs
// only to a new directory. So the stored users go (the configured ones
// apply), and the stored ACLs are replaced by the configured ones, in
// kfake's own format (version 1 of its acls.json; TestRestartRotates
// fails if kfake changes it).
func resetSecurityState(cfg Config) error {
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "meta.json")); errors.Is(err, os.ErrNotExist) {
		return nil // a new directory: kfake seeds the configured ACLs
	} else if err != nil {
		return fmt.Errorf("kafkabroker: data dir: %w", err)
	}
	if err := os.Remove(filepath.Join(cfg.DataDir, "sasl.json")); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("kafkabroker: reset stored users: %w", err)
	}
	type storedACL struct {
		Principal    string `json:"principal"`
		Host         string `json:"host"`
		ResourceType int8   `json:"resource_type"`
		ResourceName string `json:"resource_name"`
		Pattern      int8   `json:"pattern"`
		Operation    int8   `json:"operation"`
		Permission   int8   `json:"permission"`
	}
	stored := struct {
		Version int         `json:"version"`
		ACLs    []storedACL `json:"acls"`
	}{Version: 1, ACLs: []storedACL{}}
	for _, u := range cfg.Users {
		if u.Superuser {
			continue
		}
		for _, a := range u.acls() {
			stored.ACLs = append(stored.ACLs, storedACL{
				Principal: "User:" + u.Name, Host: "*", ResourceType: int8(a.Resource), ResourceName: a.Name,
				Pattern: int8(a.Pattern), Operation: int8(a.Operation), Permission: int8(kmsg.ACLPermissionTypeAllow),
			})
		}
	}
	b, err := json.Marshal(stored)
	if err != nil {
		return fmt.Errorf("kafkabroker: encode ACLs: %w", err)
	}
	path := filepath.Join(cfg.DataDir, "acls.json")
	if err := os.WriteFile(path+".tmp", b, 0o600); err != nil {
		return fmt.Errorf("kafkabroker: write ACLs: %w", err)
	}
	if err := os.Rename(path+".tmp", path); err != nil {
		return fmt.Errorf("kafkabroker: write ACLs: %w", err)
	}
	return nil
}
