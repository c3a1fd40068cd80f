package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// procMem is the memory of a group of processes, in KiB: the sum of their
// proportional set sizes (/proc/PID/smaps_rollup Pss: shared pages divided
// among the processes sharing them) and of their resident sets (VmRSS).
type procMem struct {
	Procs int   `json:"procs"`
	PssKB int64 `json:"pss_kib"`
	RSSKB int64 `json:"rss_kib"`
}

// treeMem returns the memory of the process root and all its descendants,
// grouped by command name (/proc/PID/comm), so a server with one process
// per connection (Dovecot's imap and imap-login) is measured whole.
// Processes that exit while it reads are skipped.
func treeMem(root int) (map[string]procMem, error) {
	pids, err := processTree(root)
	if err != nil {
		return nil, err
	}
	out := map[string]procMem{}
	for _, pid := range pids {
		comm, pss, rss, err := readProcMem(pid)
		if err != nil {
			if pid == root {
				return nil, err
			}
			continue
		}
		m := out[comm]
		m.Procs++
		m.PssKB += pss
		m.RSSKB += rss
		out[comm] = m
	}
	return out, nil
}

// processTree returns root and all its descendants, root first.
func processTree(root int) ([]int, error) {
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", root)); err != nil {
		return nil, fmt.Errorf("process %d: %w", root, err)
	}
	children := map[int][]int{}
	dirs, err := filepath.Glob("/proc/[0-9]*")
	if err != nil {
		return nil, err
	}
	for _, d := range dirs {
		pid, _ := strconv.Atoi(filepath.Base(d))
		if ppid, ok := parentPID(pid); ok {
			children[ppid] = append(children[ppid], pid)
		}
	}
	out := []int{root}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out, nil
}

// clockTick is the unit of the CPU times in /proc/PID/stat (USER_HZ,
// 100 on Linux).
const clockTick = 10 * time.Millisecond

// treeCPU returns the CPU time (user and system) the process root and
// its descendants have used so far. Processes that exit meanwhile are
// skipped.
func treeCPU(root int) (time.Duration, error) {
	pids, err := processTree(root)
	if err != nil {
		return 0, err
	}
	var ticks int64
	for _, pid := range pids {
		f, ok := statFields(pid)
		if !ok || len(f) < 13 {
			continue
		}
		// After "(comm)": state is f[0], utime f[11], stime f[12].
		u, err1 := strconv.ParseInt(f[11], 10, 64)
		st, err2 := strconv.ParseInt(f[12], 10, 64)
		if err1 == nil && err2 == nil {
			ticks += u + st
		}
	}
	return time.Duration(ticks) * clockTick, nil
}

// statFields returns the fields of /proc/PID/stat after "(comm)".
func statFields(pid int) ([]string, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, false
	}
	// "pid (comm) state ppid ...": comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, false
	}
	return strings.Fields(string(b[i+1:])), true
}

// parentPID reads the parent of pid from /proc/PID/stat.
func parentPID(pid int) (int, bool) {
	f, ok := statFields(pid)
	if !ok || len(f) < 2 {
		return 0, false
	}
	ppid, err := strconv.Atoi(f[1])
	return ppid, err == nil
}

// readProcMem returns a process's command name, Pss and VmRSS in KiB.
func readProcMem(pid int) (comm string, pss, rss int64, err error) {
	c, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return "", 0, 0, fmt.Errorf("process %d: %w", pid, err)
	}
	if pss, err = procField(fmt.Sprintf("/proc/%d/smaps_rollup", pid), "Pss:"); err != nil {
		return "", 0, 0, err
	}
	if rss, err = procField(fmt.Sprintf("/proc/%d/status", pid), "VmRSS:"); err != nil {
		return "", 0, 0, err
	}
	return strings.TrimSpace(string(c)), pss, rss, nil
}

// procField returns the value in kB of the line starting with key in a
// /proc file ("Pss:    1234 kB").
func procField(path, key string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), key); ok {
			fields := strings.Fields(v)
			if len(fields) == 0 {
				break
			}
			return strconv.ParseInt(fields[0], 10, 64)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return 0, fmt.Errorf("%s: no %s line", path, key)
}

// sumMem adds up every group.
func sumMem(m map[string]procMem) procMem {
	var s procMem
	for _, v := range m {
		s.Procs += v.Procs
		s.PssKB += v.PssKB
		s.RSSKB += v.RSSKB
	}
	return s
}
