package accounts

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// File names inside the accounts directory.
const (
	UsersFile   = "users"   // Dovecot passwd-file
	AliasesFile = "aliases" // "alias@domain: target, target"
	DomainsFile = "domains" // one domain per line
	LockFile    = "lock"    // flock'ed around every read-modify-write
)

// File modes for what the package writes.
const (
	dirMode      os.FileMode = 0o700
	usersMode    os.FileMode = 0o600 // holds password hashes
	aliasesMode  os.FileMode = 0o640
	domainsMode  os.FileMode = 0o640
	maxFileBytes             = 64 << 20 // refuse absurd files rather than eat memory
)

// passwdFields is the number of ':'-separated fields of a Dovecot
// passwd-file line before the extra fields:
// user:password:uid:gid:gecos:home:shell:extra_fields.
const passwdFields = 7

// fileLines is a text file kept as lines, so rewriting it preserves the
// comments, blank lines and fields an operator wrote.
type fileLines []string

func readLines(path string) (fileLines, error) {
	st, err := os.Stat(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("accounts: %w", err)
	}
	if st.Size() > maxFileBytes {
		return nil, fmt.Errorf("accounts: %s is larger than %d bytes", path, maxFileBytes)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("accounts: %w", err)
	}
	data = bytes.TrimSuffix(data, []byte("\n"))
	if len(data) == 0 {
		return nil, nil
	}
	lines := strings.Split(string(data), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	return lines, nil
}

func (fl fileLines) bytes() []byte {
	var b bytes.Buffer
	for _, l := range fl {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// isComment reports whether a line carries no entry.
func isComment(l string) bool {
	t := strings.TrimSpace(l)
	return t == "" || t[0] == '#'
}

// userLine is one parsed line of the users file.
type userLine struct {
	name   string   // normalized address
	fields []string // all ':'-separated fields, extra fields re-joined in the last one
}

// parseUserLine parses a passwd-file line. Fields after the seventh are
// joined back with ':' as Dovecot does, since extra fields such as
// userdb_quota_rule=*:storage=1G contain colons.
func parseUserLine(l string) (userLine, error) {
	f := strings.SplitN(l, ":", passwdFields+1)
	if len(f) < 2 {
		return userLine{}, fmt.Errorf("no password field")
	}
	name, err := normalizeLogin(f[0])
	if err != nil {
		return userLine{}, err
	}
	for len(f) < passwdFields+1 {
		f = append(f, "")
	}
	return userLine{name: name, fields: f}, nil
}

// normalizeLogin normalizes a user name from the users file. Unlike
// NormalizeAddress it is fine with names Dovecot accepts but that are not
// addresses; those users can log in but receive no mail.
func normalizeLogin(s string) (string, error) {
	if strings.Contains(s, "@") {
		return NormalizeAddress(s)
	}
	if s == "" || strings.ContainsAny(s, " \t") {
		return "", fmt.Errorf("bad user name %q", s)
	}
	return strings.ToLower(s), nil
}

func (u userLine) hash() string  { return u.fields[1] }
func (u userLine) extra() string { return u.fields[passwdFields] }

func (u userLine) String() string {
	f := append([]string(nil), u.fields...)
	f[0] = u.name
	// Drop empty trailing fields beyond the seven Dovecot expects, keep the rest.
	return strings.Join(f, ":")
}

// newUserLine formats a fresh users-file line.
func newUserLine(name, hash, extra string) userLine {
	f := make([]string, passwdFields+1)
	f[0], f[1], f[passwdFields] = name, hash, extra
	return userLine{name: name, fields: f}
}

// aliasLine is one parsed line of the aliases file.
type aliasLine struct {
	name    string   // normalized alias address, or "@domain" for a catch-all
	targets []string // normalized target addresses
}

func parseAliasLine(l string) (aliasLine, error) {
	colon := strings.IndexByte(l, ':')
	if colon < 0 {
		return aliasLine{}, fmt.Errorf("missing ':'")
	}
	name, err := normalizeAliasName(strings.TrimSpace(l[:colon]))
	if err != nil {
		return aliasLine{}, err
	}
	var targets []string
	for _, t := range strings.FieldsFunc(l[colon+1:], func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		n, err := NormalizeAddress(t)
		if err != nil {
			return aliasLine{}, fmt.Errorf("target: %w", err)
		}
		targets = append(targets, n)
	}
	if len(targets) == 0 {
		return aliasLine{}, fmt.Errorf("alias %s has no targets", name)
	}
	return aliasLine{name: name, targets: targets}, nil
}

// normalizeAliasName accepts an address or "@domain" (catch-all).
func normalizeAliasName(s string) (string, error) {
	if strings.HasPrefix(s, "@") {
		d, err := NormalizeDomain(s[1:])
		if err != nil {
			return "", err
		}
		return "@" + d, nil
	}
	return NormalizeAddress(s)
}

func (a aliasLine) String() string {
	return a.name + ": " + strings.Join(a.targets, ", ")
}

// aliasDomain returns the domain of an alias name or catch-all.
func aliasDomain(name string) string {
	return name[strings.LastIndexByte(name, '@')+1:]
}

func filePath(dir, name string) string { return filepath.Join(dir, name) }
