package controlplane

import (
	"log/slog"
	"slices"
	"testing"

	"github.com/shortify/shortify/controlplane/threatfeed"
	"github.com/shortify/shortify/internal/threatlist"
)

// TestThreatSettings: the feeds survive the trip through the comparable
// settings, with placeholders in their locations expanded.
func TestThreatSettings(t *testing.T) {
	t.Setenv("SHORTIFY_TEST_FEED_KEY", "k123")
	a := &App{DataDir: t.TempDir(), PublicURL: "https://sho.rt", ThreatFeeds: []ThreatFeed{
		{Name: "pt", Format: "phishtank", Location: "https://data.phishtank.com/data/{env.SHORTIFY_TEST_FEED_KEY}/online-valid.csv"},
		{Name: "mine", Format: "plain", Location: "/etc/shortify/blocked.txt"},
	}}
	if err := a.fillDefaults(); err != nil {
		t.Fatal(err)
	}
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	got := a.threatSettings().feeds()
	want := []threatfeed.Feed{
		{Name: "pt", Format: threatlist.PhishTank, Location: "https://data.phishtank.com/data/k123/online-valid.csv"},
		{Name: "mine", Format: threatlist.Plain, Location: "/etc/shortify/blocked.txt"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("feeds %+v, want %+v", got, want)
	}
	if s := (threatSettings{}).feeds(); len(s) != 0 {
		t.Fatalf("no feeds: %+v", s)
	}
}

// TestLookalikeFlag: lookalike_hosts flag lets look-alikes through the
// policy and has the API flag them.
func TestLookalikeFlag(t *testing.T) {
	a := &App{DataDir: t.TempDir(), PublicURL: "https://sho.rt", LookalikeHosts: "flag", logger: slog.Default()}
	if err := a.fillDefaults(); err != nil {
		t.Fatal(err)
	}
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	if p := a.targetPolicy(); p.RefuseLookalike {
		t.Fatal("lookalike_hosts flag refuses look-alikes")
	}
}
