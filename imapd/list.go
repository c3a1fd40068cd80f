package imapd

import (
	"strings"

	imap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"postern/maildir"
)

// List answers LIST and LSUB, with the LIST-EXTENDED selection options
// (SUBSCRIBED, RECURSIVEMATCH, SPECIAL-USE), the return options
// (SUBSCRIBED, CHILDREN, SPECIAL-USE, STATUS) and CHILDREN attributes.
// Special-use attributes are always returned (RFC 6154 §2 allows it).
func (s *session) List(w *imapserver.ListWriter, ref string, patterns []string, opts *imap.ListOptions) error {
	s.act.Begin("LIST")
	defer s.act.End()
	if len(patterns) == 1 && patterns[0] == "" {
		// RFC 9051 §6.3.9: the delimiter and root of ref.
		return w.WriteList(&imap.ListData{Attrs: []imap.MailboxAttr{imap.MailboxAttrNoSelect}, Delim: '/', Mailbox: ""})
	}
	folders, err := s.acct.Folders()
	if err != nil {
		return replyError(s.log, "list", err)
	}
	hasChildren := make(map[string]bool, len(folders))
	subChild := make(map[string]bool) // a descendant is subscribed
	for _, f := range folders {
		for p := parentOf(f.Name); p != ""; p = parentOf(p) {
			hasChildren[p] = true
			if f.Subscribed {
				subChild[p] = true
			}
		}
	}
	for _, f := range folders {
		if !matchAny(f.Name, ref, patterns) {
			continue
		}
		d := &imap.ListData{Delim: '/', Mailbox: f.Name}
		if opts.SelectSubscribed && !f.Subscribed {
			if !opts.SelectRecursiveMatch || !subChild[f.Name] {
				continue
			}
			d.ChildInfo = &imap.ListDataChildInfo{Subscribed: true}
		}
		if opts.SelectSpecialUse && f.SpecialUse == "" {
			continue
		}
		if hasChildren[f.Name] {
			d.Attrs = append(d.Attrs, imap.MailboxAttrHasChildren)
		} else {
			d.Attrs = append(d.Attrs, imap.MailboxAttrHasNoChildren)
		}
		if f.Subscribed && (opts.SelectSubscribed || opts.ReturnSubscribed) {
			d.Attrs = append(d.Attrs, imap.MailboxAttrSubscribed)
		}
		if f.SpecialUse != "" {
			d.Attrs = append(d.Attrs, imap.MailboxAttr(f.SpecialUse))
		}
		if opts.ReturnStatus != nil {
			if d.Status, err = s.listStatus(f, opts.ReturnStatus); err != nil {
				return err
			}
		}
		if err := w.WriteList(d); err != nil {
			return err
		}
	}
	return nil
}

func (s *session) listStatus(f maildir.FolderInfo, opts *imap.StatusOptions) (*imap.StatusData, error) {
	folder, err := s.acct.Folder(f.Name)
	if err != nil {
		return nil, replyError(s.log, "list status", err)
	}
	return s.statusOf(folder, opts)
}

func matchAny(name, ref string, patterns []string) bool {
	for _, p := range patterns {
		if imapserver.MatchList(name, '/', ref, p) {
			return true
		}
	}
	return false
}

func parentOf(name string) string {
	if i := strings.LastIndex(name, maildir.Delimiter); i >= 0 {
		return name[:i]
	}
	return ""
}
