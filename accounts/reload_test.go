package accounts

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestRunningServerSeesCLIChanges: a second Directory on the same files
// (what `postern user add` opens) adds and deletes users while a "server"
// Directory with its background reload runs; the server sees each change
// within a second or so, without being reopened.
func TestRunningServerSeesCLIChanges(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	server, err := Open(dir, Options{Domains: []string{"example.org"}, ReloadInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	cli, err := Open(dir, Options{Domains: []string{"example.org"}, ReloadInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()

	ctx := context.Background()
	login := func(pw string) error {
		_, err := server.Authenticate(ctx, "imap", "192.0.2.1", "carla@example.org", pw)
		return err
	}
	// waitFor polls until cond holds, failing after a generous bound.
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for end := time.Now().Add(5 * time.Second); !cond(); {
			if time.Now().After(end) {
				t.Fatalf("server did not see: %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if err := cli.AddUser("carla@example.org", "first-password"); err != nil {
		t.Fatal(err)
	}
	waitFor("user added", func() bool { return server.HasUser("carla@example.org") })
	if err := login("first-password"); err != nil {
		t.Fatalf("login after add: %v", err)
	}
	if err := cli.SetPassword("carla@example.org", "second-password"); err != nil {
		t.Fatal(err)
	}
	waitFor("password changed", func() bool { return login("second-password") == nil })
	if err := cli.AddAlias("shop@example.org", []string{"carla@example.org"}); err != nil {
		t.Fatal(err)
	}
	waitFor("alias added", func() bool {
		r, err := server.Resolve("shop@example.org")
		return err == nil && len(r.Local) == 1
	})
	if err := cli.DeleteAlias("shop@example.org"); err != nil {
		t.Fatal(err)
	}
	if err := cli.DeleteUser("carla@example.org"); err != nil {
		t.Fatal(err)
	}
	waitFor("user deleted", func() bool { return !server.HasUser("carla@example.org") })
	if err := login("second-password"); !errors.Is(err, ErrAuthFailed) {
		t.Fatalf("login of a deleted user: %v", err)
	}
}

// TestConcurrentWritersLoseNothing: several Directory instances (separate
// CLI invocations) adding users at once; every user ends up in the file.
func TestConcurrentWritersLoseNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const writers, each = 4, 5
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, err := Open(dir, Options{Domains: []string{"example.org"}, ReloadInterval: -1, BcryptCost: 4})
			if err != nil {
				errs <- err
				return
			}
			defer d.Close()
			for i := 0; i < each; i++ {
				if err := d.AddUser(fmt.Sprintf("w%d-%d@example.org", w, i), "a-long-password"); err != nil {
					errs <- err
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	d, err := Open(dir, Options{Domains: []string{"example.org"}, ReloadInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if got := len(d.Users()); got != writers*each {
		t.Fatalf("%d users in the file, want %d: %v", got, writers*each, d.Users())
	}
}

func TestPasswordRules(t *testing.T) {
	t.Parallel()
	d := openTest(t, nil)
	for _, pw := range []string{"", "short", strings.Repeat("x", 73), "with\x00nul-inside", "anna@example.org"} {
		if err := d.SetPassword("anna@example.org", pw); !errors.Is(err, ErrBadPassword) {
			t.Errorf("SetPassword(%q) = %v, want ErrBadPassword", pw, err)
		}
	}
	if err := d.AddUser("anna@example.org", "another-password"); !errors.Is(err, ErrExists) {
		t.Errorf("duplicate AddUser = %v", err)
	}
	if err := d.AddUser("zoe@unknown.example", "another-password"); !errors.Is(err, ErrUnknownDomain) {
		t.Errorf("AddUser in an unknown domain = %v", err)
	}
	if err := d.AddUser("not an address", "another-password"); !errors.Is(err, ErrBadAddress) {
		t.Errorf("AddUser of a bad address = %v", err)
	}
	// 72 bytes is bcrypt's limit and still accepted.
	if err := d.SetPassword("anna@example.org", strings.Repeat("y", 72)); err != nil {
		t.Errorf("72-byte password refused: %v", err)
	}
}
