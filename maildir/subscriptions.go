package maildir

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"

	"postern/maildir/durable"
)

// subscriptionsFile lists subscribed folders, one per line, in the
// format Dovecot reads: plain lines, or after a "V\t2\n\n" header lines
// whose hierarchy levels are separated by tabs. Plain lines use the
// Maildir++ separator "." (names cannot contain a literal ".").
const subscriptionsFile = "subscriptions"

const subsV2Header = "V\t2\n\n"

// readSubscriptions returns the set of subscribed names.
func readSubscriptions(dir string) (map[string]bool, error) {
	data, err := os.ReadFile(filepath.Join(dir, subscriptionsFile))
	if errors.Is(err, os.ErrNotExist) {
		return map[string]bool{}, nil
	}
	if err != nil {
		return nil, ioErr("maildir: read subscriptions", err)
	}
	sep := "."
	if rest, ok := bytes.CutPrefix(data, []byte(subsV2Header)); ok {
		data, sep = rest, "\t"
	}
	subs := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" {
			continue
		}
		name, err := checkName(strings.ReplaceAll(line, sep, Delimiter))
		if err != nil {
			continue
		}
		subs[name] = true
	}
	return subs, nil
}

// writeSubscriptions replaces the subscriptions file.
func writeSubscriptions(dir string, names []string) error {
	var b strings.Builder
	for _, n := range names {
		b.WriteString(strings.ReplaceAll(n, Delimiter, "."))
		b.WriteByte('\n')
	}
	if err := replaceFile(filepath.Join(dir, subscriptionsFile), []byte(b.String())); err != nil {
		return ioErr("maildir: write subscriptions", err)
	}
	return nil
}

// rolesFile records special-use roles given at CREATE for folders other
// than the default ones (which have theirs by name): "<role>\t<name>"
// per line. Dovecot ignores it.
const rolesFile = "postern-special-use"

// readRoles returns the roles given at CREATE, by folder name.
func readRoles(dir string) map[string]string {
	data, err := os.ReadFile(filepath.Join(dir, rolesFile))
	if err != nil {
		return nil
	}
	roles := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		role, name, ok := strings.Cut(line, "\t")
		if ok && strings.HasPrefix(role, `\`) {
			roles[name] = role
		}
	}
	return roles
}

// roleOf returns the special-use role of a folder.
func roleOf(name string, roles map[string]string) string {
	if r, ok := roles[name]; ok {
		return r
	}
	return specialUseByName[name]
}

// writeRoles replaces the roles file.
func writeRoles(dir string, roles map[string]string) error {
	var b strings.Builder
	for _, n := range sortedKeys(roles) {
		b.WriteString(roles[n] + "\t" + n + "\n")
	}
	if err := durable.WriteFile(filepath.Join(dir, rolesFile), []byte(b.String()), 0o600); err != nil {
		return ioErr("maildir: write special-use roles", err)
	}
	return nil
}

// setRole records the role of a folder created with one.
func setRole(dir, name, role string) error {
	roles := readRoles(dir)
	if roles == nil {
		roles = map[string]string{}
	}
	roles[name] = role
	return writeRoles(dir, roles)
}

// renameRoles carries recorded roles over a rename of oldName (and its
// subfolders) to newName.
func renameRoles(dir, oldName, newName string) error {
	roles := readRoles(dir)
	changed := false
	for n, r := range roles {
		if n == oldName || isUnder(n, oldName) {
			delete(roles, n)
			roles[newName+n[len(oldName):]] = r
			changed = true
		}
	}
	if !changed {
		return nil
	}
	return writeRoles(dir, roles)
}

func sortedKeys(m map[string]string) []string {
	b := make(map[string]bool, len(m))
	for k := range m {
		b[k] = true
	}
	return keys(b)
}
