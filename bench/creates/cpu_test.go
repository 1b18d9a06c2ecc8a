package creates

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// The machine the benchmark runs on is shared: creates/s says as much
// about the other work on it as about Shortify. The CPU time each create
// costs, in this process (the nodes and the clients) and in the database's
// backends serving the nodes, says what the creates themselves take.

// clockTicks is the unit of /proc/PID/stat's times (USER_HZ, 100 on
// Linux's every architecture).
const clockTicks = 100

// cpuSample is the CPU time used so far by this process and by each
// backend of the benchmark's database.
type cpuSample struct {
	self     time.Duration
	backends map[int]time.Duration // by PID; nil where /proc is unreadable
}

// sampleCPU reads the CPU times; the database's backends are found
// through conn, which is not counted.
func sampleCPU(ctx context.Context, conn *pgx.Conn) (cpuSample, error) {
	var s cpuSample
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return s, err
	}
	s.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	rows, err := conn.Query(ctx, "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")
	if err != nil {
		return s, err
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return s, err
	}
	s.backends = make(map[int]time.Duration, len(pids))
	for _, pid := range pids {
		t, err := procCPU(int(pid))
		if err != nil {
			return cpuSample{self: s.self}, nil // a remote database, or no /proc
		}
		s.backends[int(pid)] = t
	}
	return s, nil
}

// procCPU is the user and system time of a process, from /proc.
func procCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The fields after the command name, which is in parentheses and may
	// hold spaces: state is field 3, utime 14 and stime 15.
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// cpuUsed is the CPU time used between two samples: by this process, and
// by the database's backends (ok false when they could not be read).
func cpuUsed(before, after cpuSample) (self, db time.Duration, ok bool) {
	self = after.self - before.self
	if before.backends == nil || after.backends == nil {
		return self, 0, false
	}
	for pid, t := range after.backends {
		db += t - before.backends[pid] // a backend started since counts whole
	}
	return self, db, true
}
