package maildir

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxNameBytes is the longest folder name (UTF-8, with "/" delimiters)
// the store accepts. Longer names risk the 255-byte file name limit of
// most file systems once encoded.
const MaxNameBytes = 255

// Delimiter is the hierarchy delimiter of folder names seen by the front
// ends. On disk Maildir++ uses "." instead.
const Delimiter = "/"

// inboxName is the name of the account's root folder.
const inboxName = "INBOX"

// isInbox reports whether name is INBOX (case-insensitive, RFC 3501 5.1).
func isInbox(name string) bool { return strings.EqualFold(name, inboxName) }

// checkName validates a folder name and returns it with INBOX spelled in
// upper case (also as the first segment of a nested name).
func checkName(name string) (string, error) {
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("%w: %q: %s", ErrBadName, name, why)
	}
	if name == "" {
		return bad("empty name")
	}
	if len(name) > MaxNameBytes {
		return bad(fmt.Sprintf("longer than %d bytes", MaxNameBytes))
	}
	if !utf8.ValidString(name) {
		return bad("not UTF-8")
	}
	segs := strings.Split(name, Delimiter)
	for _, s := range segs {
		switch {
		case s == "":
			return bad("empty segment")
		case s == "." || s == "..":
			return bad("\".\" or \"..\" segment")
		case strings.Contains(s, "."):
			return bad("\".\" is the on-disk folder separator")
		}
		for _, r := range s {
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
				return bad("control character")
			}
		}
	}
	if isInbox(segs[0]) {
		segs[0] = inboxName
	}
	return strings.Join(segs, Delimiter), nil
}

// dirName maps a checked folder name other than INBOX to its Maildir++
// directory name: ".Parent.Child", each segment in modified UTF-7.
func dirName(name string) string {
	segs := strings.Split(name, Delimiter)
	for i, s := range segs {
		segs[i] = encodeUTF7(s)
	}
	return "." + strings.Join(segs, ".")
}

// folderFromDir maps a Maildir++ directory name back to a folder name, or
// reports false if the directory is not a folder (".", "..", Postern's
// and Dovecot's own dot directories, undecodable names).
func folderFromDir(d string) (string, bool) {
	if len(d) < 2 || d[0] != '.' || d[1] == '.' {
		return "", false
	}
	segs := strings.Split(d[1:], ".")
	for i, s := range segs {
		dec, err := decodeUTF7(s)
		if err != nil || dec == "" {
			return "", false
		}
		segs[i] = dec
	}
	name, err := checkName(strings.Join(segs, Delimiter))
	if err != nil || name == inboxName {
		return "", false
	}
	return name, true
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
