package caddyapp

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/shortify/shortify/internal/kafkasec"
	"github.com/shortify/shortify/internal/secret"
	"github.com/shortify/shortify/kafkabroker"
)

// provisionSecurity expands the placeholders of the TLS files and the
// users' passwords and loads the certificates, so that a bad file or an
// unset password stops the config here, with a message that says which.
func (a *App) provisionSecurity() error {
	cert, key, ca := secret.Resolve(a.TLSCert), secret.Resolve(a.TLSKey), secret.Resolve(a.TLSClientCA)
	if cert != "" || key != "" {
		if cert == "" || key == "" {
			return errors.New("shortify_kafka: tls_cert and tls_key go together")
		}
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return fmt.Errorf("shortify_kafka: tls_cert %s, tls_key %s: %w", cert, key, err)
		}
		a.tls = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	}
	if ca != "" {
		if a.tls == nil {
			return errors.New("shortify_kafka: tls_client_ca needs tls_cert and tls_key (mutual TLS is TLS first)")
		}
		pool, err := kafkasec.LoadCertPool(ca)
		if err != nil {
			return fmt.Errorf("shortify_kafka: tls_client_ca: %w", err)
		}
		a.tls.ClientCAs, a.tls.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	a.users = nil
	for _, u := range a.Users {
		a.users = append(a.users, kafkabroker.User{Name: u.Name, Password: secret.Resolve(u.Password),
			Superuser: u.Superuser, Read: u.Read, Write: u.Write, Groups: u.Groups})
	}
	return nil
}

// validateSecurity checks the users: names, and passwords that are set,
// strong and not shipped defaults.
func (a *App) validateSecurity() error {
	seen := make(map[string]bool)
	for _, u := range a.users {
		switch {
		case u.Name == "" || strings.ContainsAny(u.Name, " ,="):
			return fmt.Errorf("shortify_kafka: sasl_user %q: a user name is one word without ',' or '='", u.Name)
		case seen[u.Name]:
			return fmt.Errorf("shortify_kafka: sasl_user %s is listed twice", u.Name)
		case u.Password == "":
			return fmt.Errorf("shortify_kafka: sasl_user %s has no password (is the environment variable of its placeholder set?)", u.Name)
		}
		seen[u.Name] = true
		if err := secret.Check("shortify_kafka: the password of sasl_user "+u.Name, u.Password); err != nil {
			return err
		}
	}
	return nil
}

// securityKey identifies the security settings (passwords as a hash).
func (a *App) securityKey() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\x00%s\x00%s", secret.Resolve(a.TLSCert), secret.Resolve(a.TLSKey), secret.Resolve(a.TLSClientCA))
	for _, u := range a.users {
		fmt.Fprintf(&b, "\x00%s\x00%s\x00%v\x00%q\x00%q\x00%q", u.Name, u.Password, u.Superuser, u.Read, u.Write, u.Groups)
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:12])
}

// warnIfOpen logs what a broker reachable from other hosts lacks: without
// users anyone who reaches it can write link events, without TLS its
// traffic (clicks: visitor hashes, user agents) crosses the network in
// clear.
func (a *App) warnIfOpen() {
	if loopback(a.Listen) {
		return
	}
	if len(a.users) == 0 {
		a.logger.Warn("shortify_kafka listens beyond loopback without users: anyone who can connect can produce link events and read clicks; add sasl_user entries (docs/security.md)", "listen", a.Listen)
	}
	if a.tls == nil {
		a.logger.Warn("shortify_kafka listens beyond loopback without TLS: records cross the network in clear; set tls_cert and tls_key", "listen", a.Listen)
	}
}

// loopback reports whether the host of hostport is a loopback address or
// localhost.
func loopback(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
