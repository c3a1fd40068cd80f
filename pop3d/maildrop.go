package pop3d

import (
	"fmt"
	"slices"

	"postern/maildir"
)

// maildrop is a session's snapshot of the INBOX (RFC 1939 §8: messages
// are numbered 1..n at login and keep their numbers for the session).
type maildrop struct {
	folder      *maildir.Folder
	uidValidity uint32
	msgs        []dropMessage
	seen        []uint32 // UIDs retrieved but not yet flagged \Seen
	household   bool
}

// dropMessage is one message of the snapshot.
type dropMessage struct {
	uid     uint32
	size    int64 // octets with CRLF line ends: what RETR sends
	seen    bool  // \Seen already set (or queued)
	deleted bool  // marked by DELE
}

// openMaildrop snapshots user's INBOX. In household mode messages with
// the household keyword are left out.
func openMaildrop(store *maildir.Store, user string, household bool) (*maildrop, error) {
	acct, err := store.Account(user)
	if err != nil {
		return nil, fmt.Errorf("open account %s: %w", user, err)
	}
	f, err := acct.Folder("INBOX")
	if err != nil {
		return nil, fmt.Errorf("open INBOX of %s: %w", user, err)
	}
	list, _, err := f.Messages()
	if err != nil {
		return nil, fmt.Errorf("list INBOX of %s: %w", user, err)
	}
	d := &maildrop{folder: f, uidValidity: f.UIDValidity(), household: household}
	d.msgs = make([]dropMessage, 0, len(list))
	for _, m := range list {
		if household && slices.Contains(m.Flags, householdKeyword) {
			continue
		}
		d.msgs = append(d.msgs, dropMessage{
			uid:  m.UID,
			size: m.Size,
			seen: slices.Contains(m.Flags, seenFlag),
		})
	}
	return d, nil
}

// stat returns the number and total size of messages not marked deleted.
func (d *maildrop) stat() (count int, size int64) {
	for _, m := range d.msgs {
		if !m.deleted {
			count++
			size += m.size
		}
	}
	return count, size
}

// uidlFormat renders a UIDL from the UID and the UIDVALIDITY exactly as
// Dovecot's default pop3_uidl_format "%08Xu%08Xv" does: Dovecot's %X
// modifier prints lower-case hex (checked against Dovecot 2.3 in
// TestUIDLMatchesDovecot), so the UIDL is 16 lower-case hex digits.
const uidlFormat = "%08x%08x"

// uidl is the message's unique id (uidlFormat of UID and UIDVALIDITY).
func (d *maildrop) uidl(m *dropMessage) string {
	return fmt.Sprintf(uidlFormat, m.uid, d.uidValidity)
}

// deletedUIDs returns the UIDs marked by DELE.
func (d *maildrop) deletedUIDs() []uint32 {
	var uids []uint32
	for _, m := range d.msgs {
		if m.deleted {
			uids = append(uids, m.uid)
		}
	}
	return uids
}

// markSeen queues \Seen for a retrieved message.
func (d *maildrop) markSeen(m *dropMessage) {
	if !m.seen {
		m.seen = true
		d.seen = append(d.seen, m.uid)
	}
}

// flushSeen sets \Seen on the queued UIDs in one store call.
func (d *maildrop) flushSeen(source maildir.Source) error {
	if len(d.seen) == 0 {
		return nil
	}
	uids := d.seen
	d.seen = nil
	if _, err := d.folder.SetFlags(uids, maildir.FlagsAdd, []string{seenFlag}, source); err != nil {
		return fmt.Errorf("set \\Seen on %d messages: %w", len(uids), err)
	}
	return nil
}

// update applies the deletions at QUIT (RFC 1939 §6): expunge, or in
// household mode add the household keyword. It returns only when the
// store has made the change durable.
func (d *maildrop) update(source maildir.Source) (int, error) {
	uids := d.deletedUIDs()
	if len(uids) == 0 {
		return 0, nil
	}
	if d.household {
		if _, err := d.folder.SetFlags(uids, maildir.FlagsAdd, []string{householdKeyword}, source); err != nil {
			return 0, fmt.Errorf("hide %d messages: %w", len(uids), err)
		}
		return len(uids), nil
	}
	gone, err := d.folder.Expunge(uids, source)
	if err != nil {
		return 0, fmt.Errorf("expunge %d messages: %w", len(uids), err)
	}
	return len(gone), nil
}
