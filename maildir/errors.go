package maildir

import (
	"errors"
	"fmt"
	"syscall"
)

// Errors returned by the store, tested with errors.Is. Front ends map them
// to protocol replies in one place.
var (
	// ErrNotFound: no such account, folder or message (UID).
	ErrNotFound = errors.New("maildir: not found")
	// ErrExists: the folder already exists, or a delete or rename
	// cannot proceed because of an existing folder.
	ErrExists = errors.New("maildir: already exists")
	// ErrBadName: a folder name (or user name, keyword) that the store
	// refuses: empty, "." or ".." segments, a literal ".", control
	// characters, more than MaxNameBytes bytes, or an operation the name
	// does not allow (deleting INBOX).
	ErrBadName = errors.New("maildir: bad name")
	// ErrOverQuota: the delivery or append would exceed the account's
	// byte or message quota. Front ends report a temporary failure.
	ErrOverQuota = errors.New("maildir: over quota")
	// ErrNoSpace: the disk (or the filesystem quota) is full.
	ErrNoSpace = errors.New("maildir: no space left on device")
)

// ioErr wraps a file system error with context and turns ENOSPC and
// EDQUOT into ErrNoSpace while keeping the original error in the chain.
func ioErr(what string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("%s: %w (%w)", what, ErrNoSpace, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}
