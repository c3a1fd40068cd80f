package maildir

import (
	"os"
	"os/exec"
	"strconv"
	"testing"
)

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
