package accounts

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"postern/accounts/testkit"
)

// The test kit's users file (bcrypt below the cost Postern writes, to keep
// the other packages' tests fast) is one Postern reads and authenticates
// against: verifying accepts any cost a stored hash has.
func TestTestkitUsersAuthenticate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	testkit.WritePasswd(t, filepath.Join(dir, UsersFile), testkit.Passwd())
	d, err := Open(dir, Options{Domains: []string{testkit.Domain}, ReloadInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for user, pass := range map[string]string{testkit.AnnaUser: testkit.AnnaPass, testkit.BobUser: testkit.BobPass} {
		if h := testkit.Hash(pass); !strings.HasPrefix(h, SchemePrefix+"$2y$04$") {
			t.Errorf("testkit.Hash = %q, want the form HashPassword writes at cost 4", h)
		}
		if got, err := d.Authenticate(context.Background(), "imap", "192.0.2.7:1234", user, pass); err != nil || got != user {
			t.Errorf("Authenticate(%s) = %q, %v", user, got, err)
		}
		if _, err := d.Authenticate(context.Background(), "imap", "192.0.2.8:1234", user, pass+"x"); err == nil {
			t.Errorf("Authenticate(%s) with a wrong password succeeded", user)
		}
	}
}
