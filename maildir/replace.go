package maildir

import (
	"os"
	"syscall"

	"postern/maildir/durable"
)

// Two ways to replace a whole file: durably, for the files that hold
// the mailbox's state and that Dovecot shares (replaceFile), and cheaply,
// for Postern's own caches (replaceCache).

// replaceFile atomically replaces a file that other programs (Dovecot)
// read too, through durable.WriteFile. The new file keeps the old one's
// owner and mode, so a Postern running as root does not lock out a
// Dovecot running as the mail user.
func replaceFile(path string, data []byte) error {
	mode := os.FileMode(0o600)
	st, statErr := os.Stat(path)
	if statErr == nil {
		mode = st.Mode().Perm()
	}
	if err := durable.WriteFile(path, data, mode); err != nil {
		return err
	}
	if statErr != nil || os.Geteuid() != 0 {
		return nil
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && (sys.Uid != 0 || sys.Gid != 0) {
		return os.Chown(path, int(sys.Uid), int(sys.Gid))
	}
	return nil
}

// replaceCache atomically replaces one of Postern's cache files
// (postern-dates, postern-headers, postern-index, the last-good copy of
// dovecot-uidlist) with data, through "<path>.tmp" and a rename, without
// fsync: a reader sees the old content or the new, and a cache lost or
// torn in a crash only costs the work of rebuilding it, which is not
// worth a flush of the disk each time.
func replaceCache(path string, data []byte) error {
	tmp := path + ".tmp"
	err := os.WriteFile(tmp, data, 0o600)
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
