package maildir

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
)

func TestLockTempPID(t *testing.T) {
	for name, want := range map[string]int{
		".dovecot-uidlist.lock.tmp.1234.7":   1234,
		".dovecot-keywords.lock.tmp.99.1":    99,
		"dovecot-uidlist.lock.tmp.1234.7":    0, // not a dot file
		".dovecot-uidlist.lock.tmp.x.7":      0,
		".dovecot-uidlist.lock.tmp.1234":     0,
		".dovecot-uidlist.lock.tmp.1234.x":   0,
		".dovecot-uidlist.lock.tmp.-5.1":     0,
		".Sent":                              0,
		".dovecot-uidlist.lock.tmp.0.1":      0,
		".dovecot-uidlist.lock.tmp.12.34.56": 0,
	} {
		pid, ok := lockTempPID(name)
		if (want == 0 && ok) || (want != 0 && (!ok || pid != want)) {
			t.Errorf("lockTempPID(%q) = %d %v, want %d", name, pid, ok, want)
		}
	}
}

// A lock's temporary file left by a killed process is removed when the
// folder is opened; one of a live process stays.
func TestLockTempsOfDeadProcessesRemoved(t *testing.T) {
	root := t.TempDir()
	const user = "lt@example.org"
	s := openTestStore(t, root)
	dir := testFolder(t, s, user, "INBOX").dir
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := ".dovecot-uidlist.lock.tmp." + strconv.Itoa(cmd.Process.Pid) + ".3"
	live := ".dovecot-uidlist.lock.tmp." + strconv.Itoa(os.Getppid()) + ".4"
	for _, n := range []string{dead, live} {
		if err := os.WriteFile(dir+"/"+n, []byte("1:test"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s2 := openTestStore(t, root)
	testFolder(t, s2, user, "INBOX")
	if _, err := os.Stat(dir + "/" + dead); !os.IsNotExist(err) {
		t.Errorf("temporary file of a dead process kept: %v", err)
	}
	if _, err := os.Stat(dir + "/" + live); err != nil {
		t.Errorf("temporary file of a live process removed: %v", err)
	}
}
