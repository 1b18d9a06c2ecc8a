package main

import (
	"os"
	"testing"

	"github.com/shortify/shortify/internal/testkit/testenv"
)

// TestMain lets the test binary stand in for the command as the broker's
// child process (measureBroker starts os.Executable()).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == brokerChildArg {
		if err := runBrokerChild(); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	testenv.Main(m)
}

// TestEveryPartRuns runs every part at a small size against the real
// services: each measures and prints without an error.
func TestEveryPartRuns(t *testing.T) {
	testenv.RedisAddr(t) // fails early, with the reason, without the services
	o := options{parts: allParts, links: 2000, lookups: 200, aggLinks: 500, events: 5000,
		redis: 1000, gets: 1000, admin: testenv.AdminDSN()}
	if err := run(t.Context(), o); err != nil {
		t.Fatal(err)
	}
}
