package accounts

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"postern/maildir/durable"
)

// edit runs fn under the accounts lock file with a fresh view of the
// files, then reloads this Directory. Concurrent editors (two CLI runs)
// serialise on the lock, and each rereads the files inside it, so no
// update is lost.
func (d *Directory) edit(fn func(t *table) error) error {
	l, err := durable.Lock(filePath(d.dir, LockFile))
	if err != nil {
		return fmt.Errorf("accounts: %w", err)
	}
	defer l.Unlock()
	t, err := loadTable(d.dir, d.opts.Domains, d.log)
	if err != nil {
		return err
	}
	if err := fn(t); err != nil {
		return err
	}
	return d.Reload()
}

func (d *Directory) writeLines(name string, fl fileLines) error {
	mode := aliasesMode
	switch name {
	case UsersFile:
		mode = usersMode
	case DomainsFile:
		mode = domainsMode
	}
	if err := durable.WriteFile(filePath(d.dir, name), fl.bytes(), mode); err != nil {
		return fmt.Errorf("accounts: %w", err)
	}
	return nil
}

// rewriteUsers applies fn to each user line; fn returns the new line and
// whether to keep it. It reports whether any line matched name.
func (d *Directory) rewriteUsers(name string, fn func(u userLine) (userLine, bool)) error {
	lines, err := readLines(filePath(d.dir, UsersFile))
	if err != nil {
		return err
	}
	out := lines[:0:0]
	found := false
	for _, l := range lines {
		if !isComment(l) {
			if u, err := parseUserLine(l); err == nil && u.name == name {
				found = true
				nu, keep := fn(u)
				if keep {
					out = append(out, nu.String())
				}
				continue
			}
		}
		out = append(out, l)
	}
	if !found {
		return fmt.Errorf("user %s: %w", name, ErrNotFound)
	}
	return d.writeLines(UsersFile, out)
}

// userPassword normalises addr with normalize, checks pw as the new
// password of that user and returns the address and the password's hash.
func (d *Directory) userPassword(addr, pw string, normalize func(string) (string, error)) (a, hash string, err error) {
	if a, err = normalize(addr); err != nil {
		return "", "", err
	}
	if err := CheckNewPassword(a, pw); err != nil {
		return "", "", err
	}
	hash, err = HashPassword(pw, d.opts.BcryptCost)
	return a, hash, err
}

// AddUser creates user addr (whose domain must be local) with password pw.
func (d *Directory) AddUser(addr, pw string) error {
	a, hash, err := d.userPassword(addr, pw, NormalizeAddress)
	if err != nil {
		return err
	}
	return d.edit(func(t *table) error {
		_, dom := splitAddress(a)
		if !t.domains[dom] {
			return fmt.Errorf("domain %s of %s (add it with `postern domain add %s`): %w", dom, a, dom, ErrUnknownDomain)
		}
		if t.users[a] != nil {
			return fmt.Errorf("user %s: %w", a, ErrExists)
		}
		if _, ok := t.aliases[a]; ok {
			return fmt.Errorf("%s is an alias: %w", a, ErrExists)
		}
		lines, err := readLines(filePath(d.dir, UsersFile))
		if err != nil {
			return err
		}
		return d.writeLines(UsersFile, append(lines, newUserLine(a, hash, "").String()))
	})
}

// DeleteUser removes user addr from the users file. Its mail stays on disk,
// and aliases naming it stay (they stop delivering to it).
func (d *Directory) DeleteUser(addr string) error {
	a, err := normalizeLogin(addr)
	if err != nil {
		return err
	}
	return d.edit(func(t *table) error {
		return d.rewriteUsers(a, func(u userLine) (userLine, bool) { return u, false })
	})
}

// SetPassword replaces the password of user addr, keeping the other fields.
func (d *Directory) SetPassword(addr, pw string) error {
	a, hash, err := d.userPassword(addr, pw, normalizeLogin)
	if err != nil {
		return err
	}
	return d.edit(func(t *table) error {
		return d.rewriteUsers(a, func(u userLine) (userLine, bool) {
			u.fields[1] = hash
			return u, true
		})
	})
}

// SetQuota sets the user's storage (bytes) and message limits as
// userdb_quota_rule extra fields Dovecot reads; 0 removes a limit.
func (d *Directory) SetQuota(addr string, bytes, messages int64) error {
	a, err := normalizeLogin(addr)
	if err != nil {
		return err
	}
	if bytes < 0 || messages < 0 {
		return fmt.Errorf("negative quota: %w", ErrBadAddress)
	}
	return d.edit(func(t *table) error {
		return d.rewriteUsers(a, func(u userLine) (userLine, bool) {
			var keep []string
			for _, f := range strings.Fields(u.extra()) {
				k, _, _ := strings.Cut(f, "=")
				if !strings.HasPrefix(strings.TrimPrefix(k, "userdb_"), "quota_rule") {
					keep = append(keep, f)
				}
			}
			if bytes > 0 {
				keep = append(keep, fmt.Sprintf("userdb_quota_rule=*:bytes=%d", bytes))
			}
			if messages > 0 {
				keep = append(keep, fmt.Sprintf("userdb_quota_rule2=*:messages=%d", messages))
			}
			u.fields[passwdFields] = strings.Join(keep, " ")
			return u, true
		})
	})
}

// AddAlias makes alias (an address, or "@domain" for a catch-all) deliver
// to targets, adding them to an existing alias of that name. The alias's
// domain must be local, local targets must resolve, and the result must
// not be a loop.
func (d *Directory) AddAlias(alias string, targets []string) error {
	name, err := normalizeAliasName(alias)
	if err != nil {
		return err
	}
	if len(targets) == 0 {
		return fmt.Errorf("alias %s: no targets: %w", name, ErrBadAddress)
	}
	nts, err := normalizeTargets(targets)
	if err != nil {
		return err
	}
	return d.edit(func(t *table) error {
		dom := aliasDomain(name)
		if !t.domains[dom] {
			return fmt.Errorf("domain %s of %s: %w", dom, name, ErrUnknownDomain)
		}
		if t.users[name] != nil {
			return fmt.Errorf("%s is a user: %w", name, ErrExists)
		}
		merged := append([]string(nil), t.aliases[name]...)
		for _, n := range nts {
			if n == name {
				return fmt.Errorf("alias %s targets itself: %w", name, ErrAliasLoop)
			}
			if !slices.Contains(merged, n) {
				merged = append(merged, n)
			}
		}
		t.aliases[name] = merged
		for _, n := range nts {
			_, tdom := splitAddress(n)
			if !t.domains[tdom] {
				continue
			}
			r := resolver{t: t}
			r.expand(n, 1, false)
			if len(r.res.Local)+len(r.res.Remote) == 0 {
				if r.loop {
					return fmt.Errorf("target %s: %w", n, ErrAliasLoop)
				}
				return fmt.Errorf("target %s: %w", n, ErrNoSuchUser)
			}
		}
		return d.rewriteAliases(name, func(targets []string) []string { return merged }, true)
	})
}

// DeleteAlias removes targets from alias, or the whole alias when no
// targets are given (or none remain).
func (d *Directory) DeleteAlias(alias string, targets ...string) error {
	name, err := normalizeAliasName(alias)
	if err != nil {
		return err
	}
	drop, err := normalizeTargets(targets)
	if err != nil {
		return err
	}
	return d.edit(func(t *table) error {
		cur, ok := t.aliases[name]
		if !ok {
			return fmt.Errorf("alias %s: %w", name, ErrNotFound)
		}
		for _, n := range drop {
			if !slices.Contains(cur, n) {
				return fmt.Errorf("alias %s has no target %s: %w", name, n, ErrNotFound)
			}
		}
		return d.rewriteAliases(name, func(ts []string) []string {
			if len(drop) == 0 {
				return nil
			}
			return slices.DeleteFunc(ts, func(s string) bool { return slices.Contains(drop, s) })
		}, false)
	})
}

// normalizeTargets normalises each of an alias's targets.
func normalizeTargets(targets []string) ([]string, error) {
	var nts []string
	for _, tg := range targets {
		n, err := NormalizeAddress(tg)
		if err != nil {
			return nil, fmt.Errorf("target: %w", err)
		}
		nts = append(nts, n)
	}
	return nts, nil
}

// rewriteAliases replaces the line of alias name by fn(targets) (dropping
// it when empty), appending a line if add and none exists.
func (d *Directory) rewriteAliases(name string, fn func([]string) []string, add bool) error {
	lines, err := readLines(filePath(d.dir, AliasesFile))
	if err != nil {
		return err
	}
	out := lines[:0:0]
	found := false
	for _, l := range lines {
		if !isComment(l) && !found {
			if a, err := parseAliasLine(l); err == nil && a.name == name {
				found = true
				if ts := fn(a.targets); len(ts) > 0 {
					out = append(out, aliasLine{name: name, targets: ts}.String())
				}
				continue
			}
		}
		out = append(out, l)
	}
	if !found && add {
		out = append(out, aliasLine{name: name, targets: fn(nil)}.String())
	}
	return d.writeLines(AliasesFile, out)
}

// AddDomain adds domain to the domains file.
func (d *Directory) AddDomain(domain string) error {
	n, err := NormalizeDomain(domain)
	if err != nil {
		return err
	}
	return d.edit(func(t *table) error {
		if t.domains[n] {
			return fmt.Errorf("domain %s: %w", n, ErrExists)
		}
		lines, err := readLines(filePath(d.dir, DomainsFile))
		if err != nil {
			return err
		}
		return d.writeLines(DomainsFile, append(lines, n))
	})
}

// DeleteDomain removes domain from the domains file. It refuses while the
// domain has users or aliases, and for domains from the configuration.
func (d *Directory) DeleteDomain(domain string) error {
	n, err := NormalizeDomain(domain)
	if err != nil {
		return err
	}
	return d.edit(func(t *table) error {
		if !slices.Contains(t.fileDomains, n) {
			if t.domains[n] {
				return errors.New("domain " + n + " is set in the configuration file; remove it there")
			}
			return fmt.Errorf("domain %s: %w", n, ErrNotFound)
		}
		if len(t.byDomain[n]) > 0 {
			return fmt.Errorf("domain %s has %d users: %w", n, len(t.byDomain[n]), ErrDomainInUse)
		}
		for a := range t.aliases {
			if aliasDomain(a) == n {
				return fmt.Errorf("domain %s has alias %s: %w", n, a, ErrDomainInUse)
			}
		}
		lines, err := readLines(filePath(d.dir, DomainsFile))
		if err != nil {
			return err
		}
		out := slices.DeleteFunc(lines, func(l string) bool {
			if isComment(l) {
				return false
			}
			x, err := NormalizeDomain(strings.TrimSpace(l))
			return err == nil && x == n
		})
		return d.writeLines(DomainsFile, out)
	})
}
