//go:build !faults

package edge

// long is false in make test: faults 8 and 10 run their shortened
// variants (fewer reloads, shorter phases).
const long = false
