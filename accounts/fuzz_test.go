package accounts

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzNormalizeAddress: any input either fails or gives an address that
// normalizes to itself (idempotent) and is lower case.
func FuzzNormalizeAddress(f *testing.F) {
	for _, s := range []string{"Anna@Example.ORG", "anna+x@bücher.example", `"q"@x.org`, "a@b", "@", "a..b@c.d", "x@[1.2.3.4]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := NormalizeAddress(s)
		if err != nil {
			return
		}
		again, err := NormalizeAddress(got)
		if err != nil || again != got {
			t.Fatalf("NormalizeAddress(%q) = %q, but that normalizes to %q, %v", s, got, again, err)
		}
		if strings.ToLower(got) != got {
			t.Fatalf("NormalizeAddress(%q) = %q is not lower case", s, got)
		}
	})
}

// FuzzAccountFiles: arbitrary users, aliases and domains files never make
// Reload or Resolve panic, and a failed Reload keeps the last good state.
func FuzzAccountFiles(f *testing.F) {
	f.Add("anna@example.org:{BLF-CRYPT}$2y$10$abcdefghijklmnopqrstuu\n", "shop@example.org: anna@example.org\n", "example.org\n")
	f.Add("broken line\n:::\n", "a@example.org: a@example.org\n@example.org: b@x\n", "\xff\n")
	dir := f.TempDir()
	d, err := Open(dir, Options{ReloadInterval: -1, BcryptCost: 4})
	if err != nil {
		f.Fatal(err)
	}
	defer d.Close()
	f.Fuzz(func(t *testing.T, users, aliases, domains string) {
		for name, body := range map[string]string{UsersFile: users, AliasesFile: aliases, DomainsFile: domains} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		d.Reload()
		for _, a := range []string{"anna@example.org", "shop@example.org", "x@example.org", "postmaster@example.org"} {
			d.Resolve(a)
		}
		d.Users()
		d.Aliases()
	})
}
