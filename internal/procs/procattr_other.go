//go:build !linux

package procs

import "syscall"

// dieWithParent does nothing where the kernel has no parent-death signal:
// a test process killed outright leaves its replica running.
func dieWithParent(*syscall.SysProcAttr) {}
