//go:build !linux

package procs

import "syscall"

// dieWithParent does nothing where the kernel has no parent-death signal:
// a starting process killed outright leaves its children running.
func dieWithParent(*syscall.SysProcAttr) {}
