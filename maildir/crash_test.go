package maildir

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// crashChildEnv names the store root of the crash test's child process.
const crashChildEnv = "POSTERN_MAILDIR_CRASH_CHILD"

// crashUsers receive the child's deliveries; every third message goes to
// both (one file, hard-linked).
var crashUsers = []string{"anna@example.org", "bob@example.org"}

// crashMessage returns message n: its size varies, and its last line
// names it, so a half-written file is recognised.
func crashMessage(n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Message-ID: <%d@crash>\nSubject: crash %d\n\n", n, n)
	line := strings.Repeat("x", 70)
	for i := 0; i < 1+(n*37)%150; i++ {
		b.WriteString(line + "\n")
	}
	fmt.Fprintf(&b, "END %d\n", n)
	return b.String()
}

// crashChild delivers messages for ever, starting at the number in the
// environment, and prints "ok <n>" after each delivery returned success.
func crashChild(root string) int {
	s, err := Open(root, Options{Hostname: "crash", WatchInterval: -1})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	n, _ := strconv.Atoi(os.Getenv(crashChildEnv + "_FROM"))
	out := bufio.NewWriter(os.Stdout)
	for ; ; n++ {
		to := []Target{{User: crashUsers[n%2]}}
		if n%3 == 0 {
			to = []Target{{User: crashUsers[0]}, {User: crashUsers[1]}}
		}
		errs, err := s.Deliver(context.Background(), strings.NewReader(crashMessage(n)), to)
		if err != nil {
			fmt.Fprintln(os.Stderr, err, errs)
			return 2
		}
		for _, e := range errs {
			if e != nil {
				fmt.Fprintln(os.Stderr, e)
				return 2
			}
		}
		fmt.Fprintf(out, "ok %d\n", n)
		out.Flush()
	}
}

// TestCrashDuringDeliveries: a child process delivering in a loop is
// killed with SIGKILL at random moments, several times. After each kill,
// a fresh store shows every acknowledged delivery exactly once per
// recipient, no incomplete message, unique UIDs, and no UID that ever
// changed its message (UIDs are never reused).
func TestCrashDuringDeliveries(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	acked := map[int]bool{}
	uidOwner := map[string]map[uint32]int{} // user -> UID -> message number
	next := 0
	rounds := 8
	for round := 0; round < rounds; round++ {
		runKilledChild(t, "^$", crashChildEnv, root, next, func(line string) {
			if n, ok := strings.CutPrefix(line, "ok "); ok {
				i, _ := strconv.Atoi(n)
				acked[i] = true
				next = max(next, i+1)
			}
		})
		// What the child had under way when it died may have been stored
		// without being acknowledged: it must not be delivered twice by
		// the next child, so numbering jumps past it.
		next++
		checkAfterCrash(t, root, acked, uidOwner)
	}
	if len(acked) < 50 {
		t.Fatalf("only %d deliveries acknowledged in %d rounds", len(acked), rounds)
	}
	t.Logf("%d acknowledged deliveries over %d kills", len(acked), rounds)
}

// checkAfterCrash opens the store afresh and checks every recipient's INBOX.
func checkAfterCrash(t *testing.T, root string, acked map[int]bool, uidOwner map[string]map[uint32]int) {
	t.Helper()
	s, err := Open(root, Options{Hostname: "check", WatchInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for ui, user := range crashUsers {
		f := testFolder(t, s, user, "INBOX")
		msgs, uidNext, err := f.Messages()
		if err != nil {
			t.Fatal(err)
		}
		if uidOwner[user] == nil {
			uidOwner[user] = map[uint32]int{}
		}
		seen := map[int]uint32{}
		var last uint32
		for _, m := range msgs {
			if m.UID <= last || m.UID >= uidNext {
				t.Fatalf("%s: UID %d after %d, UIDNEXT %d", user, m.UID, last, uidNext)
			}
			last = m.UID
			rc, _, err := f.Open(m.UID)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				t.Fatal(err)
			}
			var n int
			if _, err := fmt.Sscanf(string(body), "Message-ID: <%d@crash>", &n); err != nil {
				t.Fatalf("%s UID %d: unreadable message %q", user, m.UID, body)
			}
			want := strings.ReplaceAll(crashMessage(n), "\n", "\r\n")
			if string(body) != want || m.Size != int64(len(want)) {
				t.Fatalf("%s UID %d: message %d incomplete (%d bytes, size %d, want %d)", user, m.UID, n, len(body), m.Size, len(want))
			}
			if prev, dup := seen[n]; dup {
				t.Fatalf("%s: message %d twice, UIDs %d and %d", user, n, prev, m.UID)
			}
			seen[n] = m.UID
			if owner, ok := uidOwner[user][m.UID]; ok && owner != n {
				t.Fatalf("%s: UID %d was message %d, now %d", user, m.UID, owner, n)
			}
			uidOwner[user][m.UID] = n
		}
		for n := range acked {
			if n%2 == ui || n%3 == 0 {
				if _, ok := seen[n]; !ok {
					t.Fatalf("%s: acknowledged message %d is missing", user, n)
				}
			}
		}
	}
}

// startChild starts this test binary as a child process with
// -test.run=run and env added to the environment, and returns it with
// its standard output.
func startChild(t *testing.T, run string, env ...string) (*exec.Cmd, io.Reader) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run="+run)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, stdout
}

// runKilledChild runs this test binary as a child (-test.run=run, with
// env=root and env_FROM=from set), passes each line it prints to line,
// kills it with SIGKILL after 150–500 ms and waits for it.
func runKilledChild(t *testing.T, run, env, root string, from int, line func(string)) {
	t.Helper()
	cmd, stdout := startChild(t, run, env+"="+root, env+"_FROM="+strconv.Itoa(from))
	kill := time.AfterFunc(time.Duration(150+rand.IntN(350))*time.Millisecond, func() { cmd.Process.Kill() })
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line(sc.Text())
	}
	io.Copy(io.Discard, stdout)
	kill.Stop()
	cmd.Wait()
}
