package maildir

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// raceChildEnv names the store root of TestConcurrentTwoProcesses' child.
const raceChildEnv = "POSTERN_MAILDIR_RACE_CHILD"

// raceChild is TestConcurrentTwoProcesses' second process (run through
// TestMain): it opens its own store on root, prints "ready", runs the
// workload of messages from racePerStore on, printing "expunged <n>" for
// every message it may have expunged, closes the store and prints "done".
func raceChild(root string) int {
	s, err := Open(root, Options{Hostname: "child", WatchInterval: 20 * time.Millisecond})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	say := func(line string) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintln(out, line)
		out.Flush()
	}
	say("ready")
	err = raceWorkload(s, racePerStore, func(n int) { say("expunged " + strconv.Itoa(n)) })
	s.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	say("done")
	return 0
}

// TestConcurrentTwoProcesses: two processes, each with its own store on
// one root, deliver, flag, move and expunge in one folder at once (the
// same workload as TestConcurrentOneFolder). At the end no message is
// lost or duplicated, this process's store and a fresh one agree on every
// UID, and this process's subscribers saw consistent events, new UIDs in
// increasing order, although half of the changes came from the other
// process.
func TestConcurrentTwoProcesses(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	s1, checkers := raceObserver(t, root)
	cmd, stdout := startChild(t, "^$", raceChildEnv+"="+root)
	var expunged expungeLog
	ready := make(chan struct{})
	childDone := make(chan bool, 1)
	go func() {
		done := false
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "ready":
				close(ready)
			case line == "done":
				done = true
			case strings.HasPrefix(line, "expunged "):
				n, _ := strconv.Atoi(strings.TrimPrefix(line, "expunged "))
				expunged.add(n)
			}
		}
		childDone <- done
	}()
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("child process not ready")
	}
	if err := raceWorkload(s1, 0, expunged.add); err != nil {
		t.Error(err)
	}
	done := <-childDone
	if err := cmd.Wait(); err != nil || !done {
		t.Fatalf("child process: %v, finished: %v", err, done)
	}
	checkRace(t, root, []*Store{s1}, []int{0, racePerStore}, &expunged, checkers)
}
