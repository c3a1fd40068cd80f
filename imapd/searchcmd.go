package imapd

import (
	"bytes"
	"errors"
	"io"

	imap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"postern/maildir"
)

// Search evaluates criteria (search.go) over the messages the client
// knows, loading headers and bodies only when a criterion needs them, and
// answers with sequence numbers or UIDs; RETURN (SAVE) keeps the result
// for $ (SEARCHRES, RFC 5182). A program over the bounds of
// searchlimit.go is refused before anything else; the rest waits for a
// busy-command slot (busygate.go), and the message data it loads is
// accounted (memory.go).
func (s *session) Search(kind imapserver.NumKind, criteria *imap.SearchCriteria, opts *imap.SearchOptions) (*imap.SearchData, error) {
	s.act.Begin("SEARCH")
	defer s.act.End()
	if err := checkSearchProgram(criteria); err != nil {
		s.log.Info("search refused", "reason", err)
		return nil, err
	}
	busy, err := s.beginBusy()
	if err != nil {
		return nil, err
	}
	defer busy.end()
	criteria = s.substituteSaved(criteria)
	ts := s.resolve(imap.SeqSet{imap.SeqRange{Start: 1, Stop: 0}})
	var b searchBounds
	if n := len(ts); n > 0 {
		b = searchBounds{MaxSeq: ts[n-1].seq, MaxUID: imap.UID(ts[n-1].msg.UID)}
	}
	b.indexSets(criteria)
	f := s.sel.mbox.folder
	mem := &busy.mem
	scratch := &searchScratch{mem: mem} // BODY and TEXT, reused
	var seqs imap.SeqSet
	var uids imap.UIDSet
	d := &imap.SearchData{}
	for _, t := range ts {
		var held int64 // this message's header
		m := &searchMsg{
			Seq: t.seq, UID: imap.UID(t.msg.UID), Flags: imapFlags(t.msg.Flags),
			Date: t.msg.Date, Size: t.msg.Size,
			Header: func() ([]byte, error) {
				h, err := f.Header(t.msg.UID)
				if err != nil {
					return nil, err
				}
				if err := mem.take(int64(len(h))); err != nil {
					return nil, err
				}
				held = int64(len(h))
				return h, nil
			},
			Text:    func() ([]byte, error) { return scratch.read(f, t.msg.UID, t.msg.Size) },
			Scratch: scratch,
		}
		ok, err := matchSearch(m, criteria, b)
		mem.adjust(held, 0)
		if errors.Is(err, maildir.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, replyError(s.log, "search", err)
		}
		if !ok {
			continue
		}
		seqs.AddNum(t.seq)
		uids.AddNum(imap.UID(t.msg.UID))
		n := t.seq
		if kind == imapserver.NumKindUID {
			n = t.msg.UID
		}
		if d.Min == 0 || n < d.Min {
			d.Min = n
		}
		d.Max = max(d.Max, n)
		d.Count++
	}
	if kind == imapserver.NumKindUID {
		d.All = uids
	} else {
		d.All = seqs
	}
	if opts.ReturnSave {
		s.saved = uids
	}
	return d, nil
}

// substituteSaved replaces $ in UID criteria by the saved result.
func (s *session) substituteSaved(c *imap.SearchCriteria) *imap.SearchCriteria {
	out := *c
	out.UID = make([]imap.UIDSet, len(c.UID))
	for i, set := range c.UID {
		if imap.IsSearchRes(set) {
			set = s.saved
			if set == nil {
				set = imap.UIDSet{} // nothing saved: matches nothing
			}
		}
		out.UID[i] = set
	}
	out.Not = make([]imap.SearchCriteria, len(c.Not))
	for i := range c.Not {
		out.Not[i] = *s.substituteSaved(&c.Not[i])
	}
	out.Or = make([][2]imap.SearchCriteria, len(c.Or))
	for i := range c.Or {
		out.Or[i] = [2]imap.SearchCriteria{*s.substituteSaved(&c.Or[i][0]), *s.substituteSaved(&c.Or[i][1])}
	}
	return &out
}

func readAll(f *maildir.Folder, uid uint32) ([]byte, error) {
	rc, msg, err := f.Open(uid)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	buf := bytes.NewBuffer(make([]byte, 0, msg.Size))
	_, err = io.Copy(buf, rc)
	return buf.Bytes(), err
}
