package dovecot

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Folder names as the front ends see them are UTF-8 with "/" between
// hierarchy levels and "INBOX" for the account's root folder. In a
// Maildir++ tree every other folder is the directory ".Parent.Child"
// beside cur/ new/ tmp/, each level in modified UTF-7 (see utf7.go), as
// Dovecot stores them with LAYOUT=Maildir++ and mailbox_list_utf8 = no.

// MaxNameBytes is the longest folder name (UTF-8, with "/" delimiters)
// CheckName accepts. Longer names risk the 255-byte file name limit of
// most file systems once encoded.
const MaxNameBytes = 255

// Delimiter is the hierarchy delimiter of folder names. On disk
// Maildir++ uses "." instead.
const Delimiter = "/"

// Inbox is the name of the account's root folder.
const Inbox = "INBOX"

// isInbox reports whether name is INBOX (case-insensitive, RFC 3501 5.1).
func isInbox(name string) bool { return strings.EqualFold(name, Inbox) }

// CheckName validates a folder name for a Maildir++ tree and returns it
// with INBOX spelled in upper case (also as the first level of a nested
// name). It refuses empty names and levels, "." and ".." levels, a
// literal "." (the on-disk separator), control characters, invalid
// UTF-8 and names longer than MaxNameBytes. The error says what is
// wrong, for the caller to wrap.
func CheckName(name string) (string, error) {
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("%q: %s", name, why)
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
		segs[0] = Inbox
	}
	return strings.Join(segs, Delimiter), nil
}

// DirName maps a checked folder name other than INBOX to its Maildir++
// directory name: ".Parent.Child", each level in modified UTF-7.
func DirName(name string) string {
	segs := strings.Split(name, Delimiter)
	for i, s := range segs {
		segs[i] = encodeUTF7(s)
	}
	return "." + strings.Join(segs, ".")
}

// FolderFromDir maps a Maildir++ directory name back to a folder name, or
// reports false if the directory is not a folder (".", "..", Postern's
// and Dovecot's own dot directories, undecodable names).
func FolderFromDir(d string) (string, bool) {
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
	name, err := CheckName(strings.Join(segs, Delimiter))
	if err != nil || name == Inbox {
		return "", false
	}
	return name, true
}
