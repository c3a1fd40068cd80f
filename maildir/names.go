package maildir

import (
	"fmt"
	"strings"

	"postern/maildir/dovecot"
)

// MaxNameBytes is the longest folder name (UTF-8, with "/" delimiters)
// the store accepts. Longer names risk the 255-byte file name limit of
// most file systems once encoded.
const MaxNameBytes = dovecot.MaxNameBytes

// Delimiter is the hierarchy delimiter of folder names seen by the front
// ends. On disk Maildir++ uses "." instead.
const Delimiter = dovecot.Delimiter

// inboxName is the name of the account's root folder.
const inboxName = dovecot.Inbox

// checkName validates a folder name (see dovecot.CheckName) and returns
// it with INBOX spelled in upper case; a bad name is ErrBadName.
func checkName(name string) (string, error) {
	name, err := dovecot.CheckName(name)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrBadName, err)
	}
	return name, nil
}

// splitName splits a checked folder name into its segments.
func splitName(name string) []string { return strings.Split(name, Delimiter) }

// joinName joins segments into a folder name.
func joinName(segs []string) string { return strings.Join(segs, Delimiter) }

// isUnder reports whether name is a subfolder (at any depth) of parent.
func isUnder(name, parent string) bool {
	return strings.HasPrefix(name, parent+Delimiter)
}

// specialUseByName is the role each default folder has. Dovecot takes
// roles from its configuration, so Postern keeps them by name and a
// Dovecot configured with the usual names agrees.
var specialUseByName = map[string]string{
	"Sent":    `\Sent`,
	"Drafts":  `\Drafts`,
	"Trash":   `\Trash`,
	"Junk":    `\Junk`,
	"Archive": `\Archive`,
}

// defaultFolders are created on an account's first use, besides INBOX.
var defaultFolders = []string{"Sent", "Drafts", "Trash", "Junk", "Archive"}

// checkUser validates an account name "local@domain" and returns its
// directory relative to the store root.
func checkUser(user string) (string, error) {
	local, domain, ok := strings.Cut(user, "@")
	if !ok || local == "" || domain == "" || strings.Contains(domain, "@") {
		return "", fmt.Errorf("%w: user %q is not local@domain", ErrBadName, user)
	}
	for _, p := range []string{local, domain} {
		if p == "." || p == ".." || strings.HasPrefix(p, ".") || strings.ContainsAny(p, "/\\\x00") {
			return "", fmt.Errorf("%w: user %q", ErrBadName, user)
		}
		for _, r := range p {
			if r < 0x20 || r == 0x7f {
				return "", fmt.Errorf("%w: user %q has a control character", ErrBadName, user)
			}
		}
	}
	return domain + "/" + local, nil
}
