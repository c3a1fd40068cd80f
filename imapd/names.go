package imapd

import (
	"strings"
	"unicode/utf8"

	imap "github.com/emersion/go-imap/v2"

	"postern/maildir"
)

// checkName refuses folder names the store must never see: go-imap has
// already decoded modified UTF-7, so name is UTF-8 with "/" as delimiter.
// maildir refuses the same names again (ErrBadName); checking here gives
// the client a precise reason.
func checkName(name string) error {
	bad := func(text string) error {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot, Text: text}
	}
	switch {
	case name == "":
		return bad("Empty mailbox name")
	case len(name) > maildir.MaxNameBytes:
		return bad("Mailbox name too long")
	case !utf8.ValidString(name):
		return bad("Mailbox name is not valid UTF-8")
	case strings.HasPrefix(name, maildir.Delimiter):
		return bad("Mailbox names are relative: no leading /")
	}
	for _, seg := range strings.Split(name, maildir.Delimiter) {
		switch {
		case seg == "":
			return bad("Empty hierarchy level in mailbox name")
		case seg == "." || seg == "..":
			return bad("Mailbox name must not contain . or .. levels")
		case strings.ContainsAny(seg, "\\*%"):
			return bad("Mailbox name must not contain \\, * or %")
		}
		for _, r := range seg {
			if r < 0x20 || r == 0x7f {
				return bad("Mailbox name must not contain control characters")
			}
		}
	}
	return nil
}

// folder opens a folder of the logged-in account after checking its name.
func (s *session) folder(name string) (*maildir.Folder, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	f, err := s.acct.Folder(name)
	if err != nil {
		return nil, replyError(s.log, "open folder", err)
	}
	return f, nil
}
