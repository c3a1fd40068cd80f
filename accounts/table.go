package accounts

import (
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
)

// user is one account as loaded from the users file.
type user struct {
	name          string
	hash          string // bcrypt hash without the {BLF-CRYPT} prefix; "" if unusable
	quotaBytes    int64
	quotaMessages int64
}

// table is an immutable snapshot of the three files. Readers load it from
// an atomic pointer and never lock; a reload builds a new one.
type table struct {
	domains     map[string]bool
	domainOrder []string // config domains in order, then the domains file in order
	users       map[string]*user
	userList    []string            // sorted
	byDomain    map[string][]string // domain -> sorted users
	aliases     map[string][]string // alias or "@domain" -> targets
	fileDomains []string            // domains from the domains file only
}

// loadTable reads the accounts files in dir. Bad lines are logged and
// skipped; only I/O errors fail the load.
func loadTable(dir string, configDomains []string, log *slog.Logger) (*table, error) {
	t := &table{
		domains:  map[string]bool{},
		users:    map[string]*user{},
		byDomain: map[string][]string{},
		aliases:  map[string][]string{},
	}
	for _, d := range configDomains {
		n, err := NormalizeDomain(d)
		if err != nil {
			return nil, fmt.Errorf("accounts: configured domain: %w", err)
		}
		t.addDomain(n)
	}
	err := eachLine(dir, DomainsFile, log, func(l string) (string, error) { return NormalizeDomain(strings.TrimSpace(l)) }, func(_ int, n string) {
		t.fileDomains = append(t.fileDomains, n)
		t.addDomain(n)
	})
	if err != nil {
		return nil, err
	}
	err = eachLine(dir, UsersFile, log, parseUserLine, func(line int, pl userLine) {
		if _, dup := t.users[pl.name]; dup {
			log.Error("accounts: skipping duplicate user", "file", UsersFile, "line", line, "user", pl.name)
			return
		}
		u := &user{name: pl.name}
		if h, ok := bcryptHash(pl.hash()); ok {
			u.hash = h
		} else {
			log.Error("accounts: user has no usable {BLF-CRYPT} hash and cannot log in", "file", UsersFile, "line", line, "user", pl.name)
		}
		u.quotaBytes, u.quotaMessages = parseQuota(pl.extra())
		t.users[u.name] = u
		t.userList = append(t.userList, u.name)
		if strings.Contains(u.name, "@") {
			_, d := splitAddress(u.name)
			t.byDomain[d] = append(t.byDomain[d], u.name)
			if !t.domains[d] {
				log.Warn("accounts: user's domain is not a local domain; the user can log in but receives no mail", "user", u.name, "domain", d)
			}
		}
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(t.userList)
	for _, us := range t.byDomain {
		sort.Strings(us)
	}
	err = eachLine(dir, AliasesFile, log, parseAliasLine, func(line int, a aliasLine) {
		if _, dup := t.aliases[a.name]; dup {
			log.Error("accounts: skipping duplicate alias", "file", AliasesFile, "line", line, "alias", a.name)
			return
		}
		t.aliases[a.name] = a.targets
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// eachLine reads the accounts file name in dir and calls add with the
// line number and parsed value of each line that is not a comment; a
// line parse rejects is logged and skipped. Only I/O errors are returned.
func eachLine[T any](dir, name string, log *slog.Logger, parse func(string) (T, error), add func(line int, v T)) error {
	lines, err := readLines(filePath(dir, name))
	if err != nil {
		return err
	}
	for i, l := range lines {
		if isComment(l) {
			continue
		}
		v, err := parse(l)
		if err != nil {
			log.Error("accounts: skipping bad line", "file", name, "line", i+1, "err", err)
			continue
		}
		add(i+1, v)
	}
	return nil
}

func (t *table) addDomain(d string) {
	if !t.domains[d] {
		t.domains[d] = true
		t.domainOrder = append(t.domainOrder, d)
	}
}

// parseQuota reads Dovecot quota rules from passwd-file extra fields:
// userdb_quota_rule=*:storage=1G, userdb_quota_rule2=*:messages=1000,
// also "quota_rule" without the userdb_ prefix. storage is in kilobytes
// unless it has a unit (B, K, M, G, T, binary multiples), bytes is in bytes.
// 0 means unlimited.
func parseQuota(extra string) (bytes, messages int64) {
	for _, f := range strings.Fields(extra) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			continue
		}
		k = strings.TrimPrefix(k, "userdb_")
		if !strings.HasPrefix(k, "quota_rule") {
			continue
		}
		box, rules, ok := strings.Cut(v, ":")
		if !ok || box != "*" {
			continue
		}
		for _, r := range strings.FieldsFunc(rules, func(r rune) bool { return r == ':' || r == ' ' }) {
			rk, rv, ok := strings.Cut(r, "=")
			if !ok {
				continue
			}
			switch rk {
			case "storage":
				if n, ok := parseSize(rv, 1024); ok {
					bytes = n
				}
			case "bytes":
				if n, ok := parseSize(rv, 1); ok {
					bytes = n
				}
			case "messages":
				if n, err := strconv.ParseInt(rv, 10, 64); err == nil && n >= 0 {
					messages = n
				}
			}
		}
	}
	return bytes, messages
}

// parseSize parses "<n>[B|K|M|G|T]" (binary multiples, case-insensitive);
// a bare number is multiplied by unit.
func parseSize(s string, unit int64) (int64, bool) {
	if s == "" {
		return 0, false
	}
	mult := unit
	switch s[len(s)-1] {
	case 'b', 'B':
		mult = 1
	case 'k', 'K':
		mult = 1 << 10
	case 'm', 'M':
		mult = 1 << 20
	case 'g', 'G':
		mult = 1 << 30
	case 't', 'T':
		mult = 1 << 40
	}
	if s[len(s)-1] > '9' {
		s = s[:len(s)-1]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || (n > 0 && n > (1<<62)/mult) {
		return 0, false
	}
	return n * mult, true
}
