package imapd

import (
	"errors"
	"io"

	imap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"postern/maildir"
)

// Store changes flags. The FETCH FLAGS of a STORE come from the
// mailbox's tracker, like every other session's, in the Poll after the
// command: this session's queue may still hold older updates of the same
// messages (another session's change just before), and a "* FLAGS" for a
// new keyword must precede the first FETCH that shows it, so writing the
// fresh flags here, ahead of the queue, would leave the client with stale
// flags or an unannounced keyword. .SILENT leaves this session out of the
// update unless its queue holds older ones (see selection.echo).
func (s *session) Store(_ *imapserver.FetchWriter, set imap.NumSet, flags *imap.StoreFlags, _ *imap.StoreOptions) error {
	s.act.Begin("STORE")
	defer s.act.End()
	if s.sel.readOnly {
		return readOnlyErr
	}
	if err := checkFlags(flags.Flags); err != nil {
		return err
	}
	ts := s.resolve(set)
	if len(ts) == 0 {
		return nil
	}
	op := map[imap.StoreFlagsOp]maildir.FlagOp{
		imap.StoreFlagsSet: maildir.FlagsReplace,
		imap.StoreFlagsAdd: maildir.FlagsAdd,
		imap.StoreFlagsDel: maildir.FlagsRemove,
	}[flags.Op]
	s.sel.setEcho(!flags.Silent)
	defer s.sel.setEcho(false)
	_, err := s.sel.mbox.folder.SetFlags(uidsOf(ts), op, storeFlags(flags.Flags), s.sel)
	if errors.Is(err, maildir.ErrBadName) {
		return errMailboxKeywordsFull // the flags passed checkFlags
	}
	return replyError(s.log, "store", err)
}

// Expunge removes the \Deleted messages (only those in uids for UID
// EXPUNGE). The EXPUNGE responses come from the tracker in the Poll that
// follows, once per message, for this session and every other. CLOSE
// calls this with go-imap's writer-less ExpungeWriter; in an EXAMINEd
// mailbox CLOSE expunges nothing and succeeds (RFC 9051 §6.4.2).
func (s *session) Expunge(w *imapserver.ExpungeWriter, uids *imap.UIDSet) error {
	s.act.Begin("EXPUNGE")
	defer s.act.End()
	if s.sel.readOnly {
		if *w == (imapserver.ExpungeWriter{}) {
			return nil
		}
		return readOnlyErr
	}
	m := s.sel.mbox
	var del []uint32
	m.mu.Lock()
	for _, msg := range m.msgs {
		if !hasStoreFlag(msg.Flags, imap.FlagDeleted) {
			continue
		}
		if uids != nil && !uidSetHas(*uids, imap.UID(msg.UID), imap.UID(m.uidNext)) {
			continue
		}
		del = append(del, msg.UID)
	}
	m.mu.Unlock()
	if len(del) == 0 {
		return nil
	}
	_, err := m.folder.Expunge(del, s.sel)
	return replyError(s.log, "expunge", err)
}

// destFolder opens the target of COPY, MOVE or APPEND; a missing one
// gets [TRYCREATE] (RFC 9051 §6.4.7).
func (s *session) destFolder(name string) (*maildir.Folder, error) {
	if err := checkName(name); err != nil {
		return nil, err
	}
	f, err := s.acct.Folder(name)
	if errors.Is(err, maildir.ErrNotFound) {
		return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeTryCreate, Text: "No such mailbox"}
	}
	if err != nil {
		return nil, replyError(s.log, "open folder", err)
	}
	return f, nil
}

// Copy copies messages and reports COPYUID (UIDPLUS).
func (s *session) Copy(set imap.NumSet, dest string) (*imap.CopyData, error) {
	s.act.Begin("COPY")
	defer s.act.End()
	df, err := s.destFolder(dest)
	if err != nil {
		return nil, err
	}
	ts := s.resolve(set)
	if len(ts) == 0 {
		return nil, nil
	}
	src, dst, err := s.sel.mbox.folder.Copy(uidsOf(ts), df)
	if err != nil {
		return nil, replyError(s.log, "copy", err)
	}
	return copyData(df, src, dst), nil
}

// Move moves messages: COPYUID first, then exactly one EXPUNGE per
// message, which the tracker delivers in the Poll after the command (the
// store publishes one EventExpunge per moved message; writing EXPUNGE here
// as well would tell the client twice, the bug of go-imap's example).
func (s *session) Move(w *imapserver.MoveWriter, set imap.NumSet, dest string) error {
	s.act.Begin("MOVE")
	defer s.act.End()
	if s.sel.readOnly {
		return readOnlyErr
	}
	df, err := s.destFolder(dest)
	if err != nil {
		return err
	}
	ts := s.resolve(set)
	if len(ts) == 0 {
		return nil
	}
	src, dst, err := s.sel.mbox.folder.Move(uidsOf(ts), df, s.sel)
	if err != nil {
		return replyError(s.log, "move", err)
	}
	if d := copyData(df, src, dst); d != nil {
		return w.WriteCopyData(d)
	}
	return nil
}

func copyData(df *maildir.Folder, src, dst []uint32) *imap.CopyData {
	if len(src) == 0 {
		return nil
	}
	d := &imap.CopyData{UIDValidity: df.UIDValidity()}
	for i := range src {
		d.SourceUIDs.AddNum(imap.UID(src[i]))
		d.DestUIDs.AddNum(imap.UID(dst[i]))
	}
	return d
}

// Append stores a message with its flags and date and reports APPENDUID.
// The store replies only once the message is durable.
func (s *session) Append(name string, r imap.LiteralReader, opts *imap.AppendOptions) (*imap.AppendData, error) {
	s.act.Begin("APPEND " + name)
	defer s.act.End()
	f, err := s.destFolder(name)
	if err != nil {
		return nil, err
	}
	if r.Size() > s.srv.cfg.MaxMessageBytes {
		return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeTooBig, Text: "Message too big"}
	}
	if err := checkFlags(opts.Flags); err != nil {
		return nil, err
	}
	var src maildir.Source
	if s.sel != nil && s.sel.mbox.folder == f {
		src = s.sel
	}
	lit := &literalReader{r: r}
	msg, err := f.Append(lit, storeFlags(opts.Flags), opts.Time, src)
	if lit.err != nil {
		// The client stalled past CommandTimeout or went away in the
		// middle of its literal: the command stream cannot be resynced.
		s.log.Info("append literal not received, closing", "err", lit.err)
		_ = s.conn.NetConn().Close()
		return nil, &imap.Error{Type: imap.StatusResponseTypeBye, Text: "Literal not received in time"}
	}
	if errors.Is(err, maildir.ErrBadName) {
		return nil, errMailboxKeywordsFull // the flags passed checkFlags
	}
	if err != nil {
		return nil, replyError(s.log, "append", err)
	}
	return &imap.AppendData{UID: imap.UID(msg.UID), UIDValidity: f.UIDValidity()}, nil
}

// literalReader remembers a failure to read the client's literal, as
// opposed to a failure of the store.
type literalReader struct {
	r   io.Reader
	err error
}

func (l *literalReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	if err != nil && err != io.EOF {
		l.err = err
	}
	return n, err
}
