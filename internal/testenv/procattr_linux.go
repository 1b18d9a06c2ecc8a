package testenv

import "syscall"

// dieWithParent asks the kernel to send the child an immediate-shutdown
// signal when the test process exits.
func dieWithParent(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGQUIT }
