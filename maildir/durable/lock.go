package durable

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// FileLock is an exclusive advisory lock (flock) on a lock file, used to
// serialise read-modify-write cycles between processes, such as two
// `postern user add` invocations.
type FileLock struct {
	f *os.File
}

// Lock opens (creating it if needed) the lock file at path and blocks until
// it holds an exclusive flock on it.
func Lock(path string) (*FileLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("durable: open lock %s: %w", path, err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("durable: flock %s: %w", path, err)
	}
	return &FileLock{f: f}, nil
}

// Unlock releases the lock.
func (l *FileLock) Unlock() error {
	defer l.f.Close()
	if err := unix.Flock(int(l.f.Fd()), unix.LOCK_UN); err != nil {
		return fmt.Errorf("durable: unlock: %w", err)
	}
	return nil
}
