// Package doccheck holds the tests that keep docs/ in step with the code:
// every Caddyfile option the modules parse, every API route they register
// and every metric they define must be named somewhere under docs/, so a
// new option cannot ship undocumented and a moved section cannot lose one.
// The checks read the Go sources rather than importing the packages, so
// they keep working while code moves between packages.
package doccheck
