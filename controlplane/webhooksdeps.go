package controlplane

// The webhooks deliverer of the same config (shortify_webhooks) takes
// these settings from the app through an interface of its own
// (webhooks/caddyapp.ControlPlane), so that it does not depend on the
// control plane; with KafkaClient and LinkEventsTopicName (statsdeps.go).
// They are read after Provision.

// LinkDSN returns the link database's DSN (database).
func (a *App) LinkDSN() string { return a.Database }

// PublicBaseURL returns the base of short URLs (public_url).
func (a *App) PublicBaseURL() string { return a.PublicURL }

// OutboundAllowsPrivate reports outbound_allow_private: whether outbound
// requests (webhook deliveries) may reach private and special addresses.
func (a *App) OutboundAllowsPrivate() bool { return a.OutboundAllowPrivate }
