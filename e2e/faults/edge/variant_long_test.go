//go:build faults

package edge

// long is true under the build tag faults (make faults): the faults run
// as issue 18 words them (500 reloads, a 60 s outage, ...).
const long = true
