package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"
)

// pinProcess binds every thread of this process to cpu (and the Go
// scheduler to one P) and returns a function that puts back the CPUs the
// threads had. With -pin the open-loop generator, which runs in this
// process, so runs where wrk runs, off the instances' CPU 0. A thread
// gets the CPUs of the thread that starts it, so once every thread is
// bound, later ones are too; the loop binds until a pass over
// /proc/self/task finds no thread it has not bound.
func pinProcess(cpu int) (restore func(), err error) {
	var old, set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &old); err != nil {
		return nil, fmt.Errorf("pin the generator: read the CPUs: %w", err)
	}
	set.Set(cpu)
	if err := bindThreads(&set); err != nil {
		_ = bindThreads(&old)
		return nil, fmt.Errorf("pin the generator to CPU %d: %w", cpu, err)
	}
	procs := runtime.GOMAXPROCS(1)
	return func() {
		runtime.GOMAXPROCS(procs)
		if err := bindThreads(&old); err != nil {
			fmt.Fprintln(os.Stderr, "edge bench: unpin the generator:", err)
		}
	}, nil
}

// bindThreads sets the CPUs of every thread of this process to set.
func bindThreads(set *unix.CPUSet) error {
	bound := map[int]bool{}
	for {
		entries, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return err
		}
		fresh := 0
		for _, e := range entries {
			tid, err := strconv.Atoi(e.Name())
			if err != nil || bound[tid] {
				continue
			}
			fresh++
			// A thread that has ended since the listing is no matter.
			if err := unix.SchedSetaffinity(tid, set); err != nil && !errors.Is(err, unix.ESRCH) {
				return fmt.Errorf("thread %d: %w", tid, err)
			}
			bound[tid] = true
		}
		if fresh == 0 {
			return nil
		}
	}
}
