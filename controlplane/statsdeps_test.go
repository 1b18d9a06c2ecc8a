package controlplane

import (
	"github.com/shortify/shortify/stats"
	"github.com/shortify/shortify/stats/handler"
)

// The app gives the stats services of the same config what they take
// from it.
var (
	_ stats.ControlPlane   = (*App)(nil)
	_ handler.ControlPlane = (*App)(nil)
)
