package accounts

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
)

// Password rules.
const (
	// DefaultBcryptCost is the bcrypt cost of new hashes (Options.BcryptCost).
	DefaultBcryptCost = 10
	// MinBcryptCost is the lowest cost Postern writes.
	MinBcryptCost = 10
	// MaxPasswordBytes: bcrypt ignores bytes beyond 72, so longer passwords
	// are refused instead of silently truncated.
	MaxPasswordBytes = 72
	// MinPasswordChars is the shortest password accepted when set.
	MinPasswordChars = 8
	// SchemePrefix marks a bcrypt hash in a Dovecot passwd-file.
	SchemePrefix = "{BLF-CRYPT}"
)

// CheckNewPassword returns an error wrapping ErrBadPassword if pw may not
// be set as a password for user: empty, shorter than MinPasswordChars,
// longer than MaxPasswordBytes, containing NUL or line breaks, not UTF-8,
// or equal to the user's address or local part.
func CheckNewPassword(user, pw string) error {
	switch {
	case pw == "":
		return fmt.Errorf("empty password: %w", ErrBadPassword)
	case len(pw) > MaxPasswordBytes:
		return fmt.Errorf("password longer than %d bytes (bcrypt would ignore the rest): %w", MaxPasswordBytes, ErrBadPassword)
	case strings.ContainsRune(pw, 0):
		return fmt.Errorf("password contains a NUL byte: %w", ErrBadPassword)
	case strings.ContainsAny(pw, "\r\n"):
		return fmt.Errorf("password contains a line break: %w", ErrBadPassword)
	case !utf8.ValidString(pw):
		return fmt.Errorf("password is not valid UTF-8: %w", ErrBadPassword)
	case utf8.RuneCountInString(pw) < MinPasswordChars:
		return fmt.Errorf("password shorter than %d characters: %w", MinPasswordChars, ErrBadPassword)
	}
	local, _, _ := strings.Cut(user, "@")
	if l := strings.ToLower(pw); l == user || l == local {
		return fmt.Errorf("password equals the user name: %w", ErrBadPassword)
	}
	return nil
}

// HashPassword returns the passwd-file form "{BLF-CRYPT}$2y$<cost>$..." of
// pw. The $2y$ prefix is what Dovecot's doveadm pw writes; it is the same
// algorithm as Go's $2a$ for passwords of at most 72 bytes.
func HashPassword(pw string, cost int) (string, error) {
	if cost < MinBcryptCost {
		cost = MinBcryptCost
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), cost)
	if err != nil {
		return "", fmt.Errorf("accounts: hash password: %w", err)
	}
	if len(h) > 4 && string(h[:4]) == "$2a$" {
		h[2] = 'y'
	}
	return SchemePrefix + string(h), nil
}

// bcryptHash extracts the bcrypt hash from a passwd-file password field:
// "{BLF-CRYPT}$2y$..." (also $2a$/$2b$, and a bare "$2..." hash).
func bcryptHash(field string) (string, bool) {
	h := field
	if strings.HasPrefix(strings.ToUpper(h), SchemePrefix) {
		h = h[len(SchemePrefix):]
	} else if strings.HasPrefix(h, "{") {
		return "", false
	}
	if len(h) < 7 || h[0] != '$' || h[1] != '2' {
		return "", false
	}
	if _, err := bcrypt.Cost([]byte(h)); err != nil {
		return "", false
	}
	return h, true
}
