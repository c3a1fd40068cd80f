package maildir

import (
	"os"
	"syscall"

	"postern/maildir/durable"
)

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
