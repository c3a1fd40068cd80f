package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
	out := map[string]procMem{}
	queue := []int{root}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		queue = append(queue, children[pid]...)
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

// parentPID reads the parent of pid from /proc/PID/stat.
func parentPID(pid int) (int, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// "pid (comm) state ppid ...": comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
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
