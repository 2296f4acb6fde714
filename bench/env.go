package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// machine is what the report says about the computer the run used.
type machine struct {
	CPU      string
	Cores    int
	MemoryGB float64
	Go       string
	OS       string
}

// describeMachine reads the CPU model and memory from /proc.
func describeMachine() machine {
	m := machine{CPU: "unknown", Cores: runtime.NumCPU(), Go: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) >= 2 && f[0] == "MemTotal:" {
				if kb, err := strconv.ParseFloat(f[1], 64); err == nil {
					m.MemoryGB = kb / (1 << 20)
				}
			}
		}
	}
	return m
}

// cpuSnapshot is the CPU time used so far by this process and by each
// PostgreSQL process on the machine.
type cpuSnapshot struct {
	self     time.Duration
	postgres map[int]time.Duration // by pid
}

// cpuUse is the CPU time spent between two snapshots.
type cpuUse struct {
	Self     time.Duration // this process: the Go client, processor or workers
	Postgres time.Duration // every postgres process: the server's side
}

// takeCPU reads the CPU times. PostgreSQL processes are found by name in
// /proc; without access to them Postgres stays zero.
func takeCPU() cpuSnapshot {
	var ru syscall.Rusage
	snap := cpuSnapshot{postgres: map[int]time.Duration{}}
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		snap.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		// pid (comm) state ppid … utime(14) stime(15); comm may hold spaces.
		open, closing := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
		if open < 0 || closing < open || string(b[open+1:closing]) != "postgres" {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b[:open])))
		if err != nil {
			continue
		}
		f := strings.Fields(string(b[closing+1:]))
		if len(f) < 13 {
			continue
		}
		ut, err1 := strconv.ParseInt(f[11], 10, 64)
		st, err2 := strconv.ParseInt(f[12], 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		snap.postgres[pid] = time.Duration(ut+st) * time.Second / time.Duration(clockTicks)
	}
	return snap
}

// since returns the CPU spent from earlier to s. A PostgreSQL process that
// started in between counts from zero; one that ended is left out (its
// last slice of CPU is lost, which is why callers snapshot before closing
// their pools).
func (s cpuSnapshot) since(earlier cpuSnapshot) cpuUse {
	u := cpuUse{Self: s.self - earlier.self}
	for pid, t := range s.postgres {
		u.Postgres += t - earlier.postgres[pid]
	}
	return u
}

// clockTicks is the kernel's clock tick rate for /proc times (USER_HZ),
// read from the auxiliary vector; 100 when it cannot be read.
var clockTicks = func() int64 {
	const atClkTck = 17
	b, err := os.ReadFile("/proc/self/auxv")
	if err != nil {
		return 100
	}
	for i := 0; i+16 <= len(b); i += 16 {
		key := binary.NativeEndian.Uint64(b[i:])
		val := binary.NativeEndian.Uint64(b[i+8:])
		if key == atClkTck && val > 0 {
			return int64(val)
		}
	}
	return 100
}()

// String describes the machine in one line.
func (m machine) String() string {
	return fmt.Sprintf("%s, %d cores, %.1f GiB memory, %s, %s", m.CPU, m.Cores, m.MemoryGB, m.OS, m.Go)
}
