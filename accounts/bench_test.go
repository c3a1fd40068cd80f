package accounts

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkResolve resolves recipients among 10,000 users and 10,000 aliases.
func BenchmarkResolve(b *testing.B) {
	dir := b.TempDir()
	hash, _ := HashPassword("benchmark password", MinBcryptCost)
	var users, aliases strings.Builder
	for i := 0; i < 10000; i++ {
		fmt.Fprintf(&users, "user%d@example.org:%s::::::\n", i, hash)
		fmt.Fprintf(&aliases, "alias%d@example.org: user%d@example.org\n", i, i)
	}
	os.WriteFile(filepath.Join(dir, UsersFile), []byte(users.String()), 0o600)
	os.WriteFile(filepath.Join(dir, AliasesFile), []byte(aliases.String()), 0o600)
	d, err := Open(dir, Options{Domains: []string{"example.org"}, ReloadInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	for _, addr := range []string{"User5000@Example.org", "alias7000@example.org", "user42+tag@example.org"} {
		b.Run(addr, func(b *testing.B) {
			for b.Loop() {
				if _, err := d.Resolve(addr); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAuthenticate compares serial and parallel logins: with no
// global lock the parallel ns/op drops by about the number of cores.
func BenchmarkAuthenticate(b *testing.B) {
	d, err := Open(b.TempDir(), Options{Domains: []string{"example.org"}, ReloadInterval: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	if err := d.AddUser("anna@example.org", "benchmark password"); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			if _, err := d.Authenticate(ctx, "imap", "127.0.0.1", "anna@example.org", "benchmark password"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := d.Authenticate(ctx, "imap", "127.0.0.1", "anna@example.org", "benchmark password"); err != nil {
					b.Error(err)
				}
			}
		})
	})
}
