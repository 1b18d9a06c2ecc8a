package data

import (
	"testing"

	"github.com/shortify/shortify/internal/testkit/testenv"
)

// TestMain removes the binary the tests built.
func TestMain(m *testing.M) { testenv.Main(m) }
