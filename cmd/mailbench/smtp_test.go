package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestSMTPModeAgainstSink: the smtp mode sends every message to a loopback
// server and reports one line per run plus the medians.
func TestSMTPModeAgainstSink(t *testing.T) {
	t.Parallel()
	s, err := startSink("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	var out bytes.Buffer
	if err := runSMTP([]string{"-addr", s.addr, "-to", "u@example.org", "-n", "40", "-c", "4", "-runs", "2"}, &out); err != nil {
		t.Fatalf("smtp mode: %v\n%s", err, out.String())
	}
	sc := bufio.NewScanner(&out)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) != 3 {
		t.Fatalf("got %d lines, want 2 runs + median:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	var r smtpResult
	if err := json.Unmarshal([]byte(lines[0]), &r); err != nil {
		t.Fatal(err)
	}
	if r.Send.Count != 40 || r.Send.Errors != 0 || r.Send.PerSec <= 0 {
		t.Errorf("run 1: %+v", r)
	}
	var m smtpMedian
	if err := json.Unmarshal([]byte(lines[2]), &m); err != nil {
		t.Fatal(err)
	}
	if m.Mode != "smtp-median" || m.Runs != 2 || m.PerSec <= 0 {
		t.Errorf("median line: %+v", m)
	}
	s.mu.Lock()
	n := len(s.arrivals)
	s.mu.Unlock()
	if n < 40 {
		t.Errorf("sink saw %d messages of the last run, want 40", n)
	}
}

// A refused recipient makes every message an error, and the mode fails.
func TestSMTPModeReportsRefusals(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	err := runSMTP([]string{"-addr", "127.0.0.1:1", "-to", "u@example.org", "-n", "2", "-c", "1", "-runs", "1"}, &out)
	if err == nil {
		t.Fatalf("no error against a closed port:\n%s", out.String())
	}
}
