package maildir

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"postern/maildir/dovecot"
)

// TestDotlockOfDeadProcessBroken: a uidlist lock left by a dead process
// of this machine is broken at once, whatever Options.Hostname says, and
// taking a lock leaves no temporary file behind.
func TestDotlockOfDeadProcessBroken(t *testing.T) {
	t.Parallel()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	dir := t.TempDir()
	p := dir + "/dovecot-uidlist"
	if err := os.WriteFile(p+".lock", []byte(strconv.Itoa(dead.Process.Pid)+":"+host), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(t.TempDir(), Options{Hostname: "name-in-files", WatchInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	l, err := dovecot.TakeDotlock(p, s.lockHost)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v to break a dead process's lock", d)
	}
	data, _ := os.ReadFile(p + ".lock")
	if string(data) != strconv.Itoa(os.Getpid())+":"+host {
		t.Fatalf("lock holds %q", data)
	}
	l.Release()
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("left behind: %v", ents)
	}
}
