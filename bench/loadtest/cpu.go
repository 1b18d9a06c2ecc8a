package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTick is Linux's USER_HZ, the unit of /proc/PID/stat's CPU times:
// 100 on every architecture Go supports here.
const clockTick = 10 * time.Millisecond

// procStat is what /proc/PID/stat says of a process's CPU.
type procStat struct {
	ppid int
	// self is utime+stime (every thread); children is cutime+cstime, the
	// CPU of children it has waited for (PostgreSQL's exited backends).
	self, children time.Duration
}

// readStat reads /proc/PID/stat.
func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	return parseStat(string(b))
}

// parseStat parses a /proc/PID/stat line. The command name (field 2) is in
// parentheses and may hold spaces: the fields counted start after its
// closing parenthesis, so f[0] is field 3 (state), f[1] ppid, f[11..14]
// utime, stime, cutime, cstime.
func parseStat(s string) (procStat, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procStat{}, errors.New("stat: no command name")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 15 {
		return procStat{}, errors.New("stat: too few fields")
	}
	var v [5]int64
	for j, k := range []int{1, 11, 12, 13, 14} {
		n, err := strconv.ParseInt(f[k], 10, 64)
		if err != nil {
			return procStat{}, fmt.Errorf("stat: field %d: %w", k+3, err)
		}
		v[j] = n
	}
	return procStat{ppid: int(v[0]), self: time.Duration(v[1]+v[2]) * clockTick, children: time.Duration(v[3]+v[4]) * clockTick}, nil
}

// roleCPU is the CPU time used so far by each role's processes.
type roleCPU map[string]time.Duration

// role is a named set of process trees: the root PIDs, whose descendants
// count too (a PostgreSQL server's backends, a Redis node has none).
type role struct {
	name string
	pids []int
	// alone counts the roots' own threads only: the generator, whose
	// children are the stack's processes.
	alone bool
}

// sampleCPU reads the CPU time of every role: each root's own time and
// that of its exited children it waited for, plus every live descendant's
// own. A descendant that exits between two samples moves from the second
// sum to the first, so a delta stays right.
func sampleCPU(roles []role) (roleCPU, error) {
	children := map[int][]int{}
	stats := map[int]procStat{}
	dirs, err := filepath.Glob("/proc/[0-9]*")
	if err != nil {
		return nil, err
	}
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		st, err := readStat(pid)
		if err != nil {
			continue // exited while we looked
		}
		stats[pid] = st
		children[st.ppid] = append(children[st.ppid], pid)
	}
	out := roleCPU{}
	for _, r := range roles {
		var sum time.Duration
		for _, root := range r.pids {
			st, ok := stats[root]
			if !ok {
				return nil, fmt.Errorf("cpu: %s process %d is gone", r.name, root)
			}
			if r.alone {
				sum += st.self
				continue
			}
			sum += st.self + st.children
			stack := append([]int(nil), children[root]...)
			for len(stack) > 0 {
				pid := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				sum += stats[pid].self
				stack = append(stack, children[pid]...)
			}
		}
		out[r.name] += sum
	}
	return out, nil
}

// sub is the CPU used between an earlier sample and this one.
func (c roleCPU) sub(before roleCPU) roleCPU {
	out := roleCPU{}
	for k, v := range c {
		out[k] = v - before[k]
	}
	return out
}

// machineCPU is the whole machine's CPU time from /proc/stat's first
// line: busy (user, nice, system, irq, softirq, steal) and all (busy plus
// idle and iowait), every CPU together.
type machineCPU struct{ busy, all time.Duration }

// readMachineCPU reads /proc/stat.
func readMachineCPU() (machineCPU, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return machineCPU{}, err
	}
	return parseMachineCPU(string(b))
}

// parseMachineCPU parses the "cpu" line of /proc/stat: user nice system
// idle iowait irq softirq steal (guest time is already in user).
func parseMachineCPU(s string) (machineCPU, error) {
	line, _, _ := strings.Cut(s, "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return machineCPU{}, errors.New("/proc/stat: no cpu line with 8 fields")
	}
	var v [8]int64
	for i := range v {
		n, err := strconv.ParseInt(f[i+1], 10, 64)
		if err != nil {
			return machineCPU{}, fmt.Errorf("/proc/stat: cpu field %d: %w", i+1, err)
		}
		v[i] = n
	}
	busy := v[0] + v[1] + v[2] + v[5] + v[6] + v[7]
	return machineCPU{busy: time.Duration(busy) * clockTick, all: time.Duration(busy+v[3]+v[4]) * clockTick}, nil
}

// busyShare is the share of the machine's CPU that was busy between an
// earlier sample and this one, 0 to 1.
func (m machineCPU) busyShare(before machineCPU) float64 {
	all := m.all - before.all
	if all <= 0 {
		return 0
	}
	return float64(m.busy-before.busy) / float64(all)
}
