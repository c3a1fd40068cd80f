package testkit

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// The test users, in the domain Domain, and their passwords.
const (
	Domain   = "example.org"
	AnnaUser = "anna@example.org"
	AnnaPass = "anna-secret-1"
	BobUser  = "bob@example.org"
	BobPass  = "bob-secret-22"
)

// BcryptCost is the cost of the hashes Hash makes: bcrypt's minimum, so
// that the many logins of the tests stay fast under -race. Postern writes
// new hashes at cost 10 or more but verifies a stored hash at whatever
// cost it has (accounts' tests check that it accepts these).
const BcryptCost = bcrypt.MinCost

// hashPrefix is how Dovecot's passwd-file marks a bcrypt hash.
const hashPrefix = "{BLF-CRYPT}"

var hashes sync.Map // password → hash

// Hash returns the passwd-file form "{BLF-CRYPT}$2y$04$..." of password
// (the $2y$ prefix Dovecot's doveadm pw writes), computed once per
// password.
func Hash(password string) string {
	if h, ok := hashes.Load(password); ok {
		return h.(string)
	}
	b, err := bcrypt.GenerateFromPassword([]byte(password), BcryptCost)
	if err != nil {
		panic(err)
	}
	h := hashPrefix + "$2y$" + strings.TrimPrefix(string(b), "$2a$")
	v, _ := hashes.LoadOrStore(password, h)
	return v.(string)
}

// PasswdLine returns the Dovecot passwd-file line (with its newline) for
// user with password.
func PasswdLine(user, password string) string {
	return user + ":" + Hash(password) + "::::::\n"
}

// Passwd returns the passwd-file text for anna and bob.
func Passwd() string {
	return PasswdLine(AnnaUser, AnnaPass) + PasswdLine(BobUser, BobPass)
}

// WritePasswd writes text as the passwd-file path (mode 0600), creating
// its directory.
func WritePasswd(t testing.TB, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatalf("testkit: %v", err)
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatalf("testkit: %v", err)
	}
}
