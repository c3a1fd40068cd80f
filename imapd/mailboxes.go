package imapd

import (
	"strings"

	imap "github.com/emersion/go-imap/v2"

	"postern/maildir"
)

// specialUses are the RFC 6154 roles CREATE (USE ...) accepts.
var specialUses = map[imap.MailboxAttr]bool{
	imap.MailboxAttrAll: true, imap.MailboxAttrArchive: true, imap.MailboxAttrDrafts: true,
	imap.MailboxAttrFlagged: true, imap.MailboxAttrJunk: true, imap.MailboxAttrSent: true,
	imap.MailboxAttrTrash: true,
}

// Create makes a folder (and its parents), with an optional special use
// (RFC 6154 CREATE-SPECIAL-USE).
func (s *session) Create(name string, opts *imap.CreateOptions) error {
	s.act.Begin("CREATE " + name)
	defer s.act.End()
	name = strings.TrimSuffix(name, maildir.Delimiter) // RFC 9051 §6.3.4
	if err := checkName(name); err != nil {
		return err
	}
	use := ""
	if opts != nil && len(opts.SpecialUse) > 0 {
		if len(opts.SpecialUse) > 1 || !specialUses[opts.SpecialUse[0]] {
			return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCode("USEATTR"), Text: "Unsupported special use"}
		}
		use = string(opts.SpecialUse[0])
	}
	return replyError(s.log, "create", s.acct.CreateFolder(name, use))
}

// Delete removes a folder and its messages; subfolders stay.
func (s *session) Delete(name string) error {
	s.act.Begin("DELETE " + name)
	defer s.act.End()
	if err := checkName(name); err != nil {
		return err
	}
	if strings.EqualFold(name, "INBOX") {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot, Text: "INBOX cannot be deleted"}
	}
	return replyError(s.log, "delete", s.acct.DeleteFolder(name))
}

// Rename renames a folder with its subfolders; renaming INBOX moves its
// messages to the new folder and leaves INBOX empty (RFC 9051 §6.3.6).
func (s *session) Rename(oldName, newName string, _ *imap.RenameOptions) error {
	s.act.Begin("RENAME " + oldName)
	defer s.act.End()
	if err := checkName(oldName); err != nil {
		return err
	}
	if err := checkName(newName); err != nil {
		return err
	}
	return replyError(s.log, "rename", s.acct.RenameFolder(oldName, newName))
}

// Subscribe adds a name to the subscriptions.
func (s *session) Subscribe(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	return replyError(s.log, "subscribe", s.acct.Subscribe(name, true))
}

// Unsubscribe removes a name from the subscriptions.
func (s *session) Unsubscribe(name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	return replyError(s.log, "unsubscribe", s.acct.Subscribe(name, false))
}

// Status answers STATUS from the folder's in-memory counters. Every item
// asked for gets a value (go-imap dereferences them all).
func (s *session) Status(name string, opts *imap.StatusOptions) (*imap.StatusData, error) {
	s.act.Begin("STATUS " + name)
	defer s.act.End()
	f, err := s.folder(name)
	if err != nil {
		return nil, err
	}
	return s.statusOf(f, opts)
}

func (s *session) statusOf(f *maildir.Folder, opts *imap.StatusOptions) (*imap.StatusData, error) {
	st, err := f.Status()
	if err != nil {
		return nil, replyError(s.log, "status", err)
	}
	d := &imap.StatusData{Mailbox: f.Name(), UIDNext: imap.UID(st.UIDNext), UIDValidity: st.UIDValidity}
	if opts.NumMessages {
		d.NumMessages = &st.Messages
	}
	if opts.NumRecent {
		d.NumRecent = &st.Recent
	}
	if opts.NumUnseen {
		d.NumUnseen = &st.Unseen
	}
	if opts.NumDeleted {
		d.NumDeleted = &st.Deleted
	}
	if opts.Size {
		d.Size = &st.Size
	}
	if opts.AppendLimit {
		n := s.AppendLimit()
		d.AppendLimit = &n
	}
	return d, nil
}
