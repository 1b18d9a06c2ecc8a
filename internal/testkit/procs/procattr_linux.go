package procs

import "syscall"

// dieWithParent asks the kernel to send the child an immediate-shutdown
// signal when the starting process exits.
func dieWithParent(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGQUIT }
