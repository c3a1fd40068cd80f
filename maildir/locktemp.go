package maildir

import (
	"os"

	"postern/maildir/dovecot"
)

// cleanLockTemps removes the temporary files dotlocks are made from
// (".<name>.lock.tmp.<pid>.<n>") that a process killed while taking a
// lock left in the folder directory: those whose process is gone.
func (f *Folder) cleanLockTemps() {
	d, err := os.Open(f.dir)
	if err != nil {
		return
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	for _, n := range names {
		if !dovecot.StaleLockTemp(n) {
			continue
		}
		if err := os.Remove(f.path(n)); err == nil {
			f.acct.st.log.Info("removed a lock file left by a dead process", "user", f.acct.user, "folder", f.name, "file", n)
		}
	}
}
