package imapd

import (
	imap "github.com/emersion/go-imap/v2"

	"postern/maildir"
)

// systemFlags are the flags every mailbox supports.
var systemFlags = []imap.Flag{imap.FlagSeen, imap.FlagAnswered, imap.FlagFlagged, imap.FlagDeleted, imap.FlagDraft}

// Select opens a mailbox (EXAMINE when opts.ReadOnly). SELECT claims the
// folder's \Recent messages, as Dovecot does.
func (s *session) Select(name string, opts *imap.SelectOptions) (*imap.SelectData, error) {
	s.act.Begin("SELECT " + name)
	defer s.act.End()
	s.unselect()
	f, err := s.folder(name)
	if err != nil {
		return nil, err
	}
	var recent uint32
	if opts.ReadOnly {
		st, err := f.Status()
		if err != nil {
			return nil, replyError(s.log, "examine", err)
		}
		recent = st.Recent
	} else {
		uids, err := f.TakeRecent()
		if err != nil {
			return nil, replyError(s.log, "select", err)
		}
		recent = uint32(len(uids))
	}
	validity := f.UIDValidity()
	m := s.srv.openMailbox(f)
	sel := &selection{mbox: m, readOnly: opts.ReadOnly, wake: make(chan struct{}, 1)}
	// Only the view: m.mu is never held while the folder is called.
	m.mu.Lock()
	sel.st = m.tracker.NewSession()
	m.sels[sel] = struct{}{}
	sel.known = m.keywords
	flags := m.flagListLocked()
	d := &imap.SelectData{
		Flags:          flags,
		PermanentFlags: append(append([]imap.Flag(nil), flags...), imap.FlagWildcard),
		NumMessages:    uint32(len(m.msgs)),
		NumRecent:      recent,
		UIDNext:        imap.UID(m.uidNext),
		UIDValidity:    validity,
	}
	d.FirstUnseenSeqNum = m.firstUnseenLocked()
	m.mu.Unlock()
	if opts.ReadOnly {
		d.PermanentFlags = nil
	}
	s.sel = sel
	s.saved = nil
	return d, nil
}

// Unselect leaves the selected mailbox (CLOSE expunges first, through
// Expunge).
func (s *session) Unselect() error {
	s.unselect()
	return nil
}

func (s *session) unselect() {
	if s.sel == nil {
		return
	}
	s.sel.mbox.mu.Lock()
	s.sel.st.Close()
	delete(s.sel.mbox.sels, s.sel)
	s.sel.mbox.mu.Unlock()
	s.srv.closeMailbox(s.sel.mbox)
	s.sel = nil
	s.saved = nil
}

// target is one message a command names: its sequence number in the
// client's view and its state in the store.
type target struct {
	seq uint32
	msg maildir.Message
}

// resolve turns a client's sequence or UID set (or $) into messages the
// client knows about. Messages the client has not been told about yet
// (EXISTS pending) and ones expunged since (EXPUNGE pending) are left
// out. "*" is the largest number in the client's view. The set is
// indexed first (numset.go): a client may send thousands of ranges.
func (s *session) resolve(set imap.NumSet) []target {
	if imap.IsSearchRes(set) {
		set = s.saved
	}
	m, st := s.sel.mbox, s.sel.st
	m.mu.Lock()
	defer m.mu.Unlock()
	// match returns the client's sequence number of m.msgs[i] when the set
	// names it.
	var match func(i int) (uint32, bool)
	switch set := set.(type) {
	case imap.SeqSet:
		var maxSeq uint32
		for i := len(m.msgs); i > 0 && maxSeq == 0; i-- {
			maxSeq = st.EncodeSeqNum(uint32(i))
		}
		x := indexSeqSet(set, maxSeq)
		match = func(i int) (uint32, bool) {
			seq := st.EncodeSeqNum(uint32(i + 1))
			return seq, seq != 0 && x.has(seq)
		}
	case imap.UIDSet:
		var maxUID imap.UID
		if n := len(m.msgs); n > 0 {
			maxUID = imap.UID(m.msgs[n-1].UID)
		}
		x := indexUIDSet(set, maxUID)
		match = func(i int) (uint32, bool) {
			if !x.has(m.msgs[i].UID) {
				return 0, false
			}
			seq := st.EncodeSeqNum(uint32(i + 1))
			return seq, seq != 0
		}
	default:
		return nil
	}
	// Counted first: a 1:* of a large folder would otherwise grow (copy
	// and collect) the slice a dozen times.
	n := 0
	for i := range m.msgs {
		if _, ok := match(i); ok {
			n++
		}
	}
	out := make([]target, 0, n)
	for i := range m.msgs {
		if seq, ok := match(i); ok {
			out = append(out, target{seq: seq, msg: m.msgs[i]})
		}
	}
	return out
}

func uidsOf(ts []target) []uint32 {
	out := make([]uint32, len(ts))
	for i, t := range ts {
		out[i] = t.msg.UID
	}
	return out
}

// readOnlyErr is the answer to a change in an EXAMINEd mailbox.
var readOnlyErr = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot, Text: "Mailbox is read-only"}
