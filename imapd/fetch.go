package imapd

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"

	imap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-message/textproto"

	"postern/maildir"
)

// Fetch writes one FETCH response per message. Metadata comes from
// memory; the header cache serves ENVELOPE and header-only sections; the
// file is read only for body sections, BODYSTRUCTURE and BINARY, and a
// whole BODY[] is streamed without buffering. A non-PEEK body section
// sets \Seen first (RFC 9051 §6.4.5) and reports the new FLAGS.
func (s *session) Fetch(w *imapserver.FetchWriter, set imap.NumSet, opts *imap.FetchOptions) error {
	s.act.Begin("FETCH")
	defer s.act.End()
	var mem *cmdMemory
	if fetchIsBusy(opts) {
		busy, err := s.beginBusy()
		if err != nil {
			return err
		}
		defer busy.end()
		mem = &busy.mem
	}
	ts := s.resolve(set)
	if err := s.markSeen(ts, opts); err != nil {
		return err
	}
	if opts.Flags {
		known := s.sel.knownKeywords()
		for i := range ts {
			ts[i].msg.Flags = visibleFlags(ts[i].msg.Flags, known)
		}
	}
	return s.batched(func() error {
		for _, t := range ts {
			if err := s.fetchOne(w, t, opts, mem); err != nil {
				if errors.Is(err, maildir.ErrNotFound) {
					continue // expunged meanwhile; its EXPUNGE follows
				}
				return err
			}
		}
		return nil
	})
}

// markSeen sets \Seen on the targets when a non-PEEK section is fetched
// in a read-write mailbox, updating ts with the new flags.
func (s *session) markSeen(ts []target, opts *imap.FetchOptions) error {
	if s.sel.readOnly || !setsSeen(opts) {
		return nil
	}
	var unseen []uint32
	for _, t := range ts {
		if !hasStoreFlag(t.msg.Flags, imap.FlagSeen) {
			unseen = append(unseen, t.msg.UID)
		}
	}
	if len(unseen) == 0 {
		return nil
	}
	changed, err := s.sel.mbox.folder.SetFlags(unseen, maildir.FlagsAdd, []string{maildir.FlagSeen}, s.sel)
	if err != nil {
		return replyError(s.log, "fetch set seen", err)
	}
	byUID := make(map[uint32][]string, len(changed))
	for _, m := range changed {
		byUID[m.UID] = m.Flags
	}
	for i := range ts {
		if f, ok := byUID[ts[i].msg.UID]; ok {
			ts[i].msg.Flags = f
		}
	}
	opts.Flags = true
	return nil
}

func setsSeen(opts *imap.FetchOptions) bool {
	for _, sec := range opts.BodySection {
		if !sec.Peek {
			return true
		}
	}
	for _, sec := range opts.BinarySection {
		if !sec.Peek {
			return true
		}
	}
	return false
}

// fetchOne writes the FETCH response of one message. Content is loaded
// before the response starts, so a message that vanished writes nothing.
// What it loads is accounted in mem (nil: not accounted) until the
// response is written.
func (s *session) fetchOne(w *imapserver.FetchWriter, t target, opts *imap.FetchOptions, mem *cmdMemory) error {
	defer mem.giveBack(mem.mark())
	f := s.sel.mbox.folder
	c := &content{f: f, uid: t.msg.UID, size: t.msg.Size, mem: mem}
	var env *imap.Envelope
	if opts.Envelope {
		if env = s.sel.mbox.envelope(t.msg.UID); env == nil {
			h, err := c.envelopeHeader()
			if err != nil {
				return err
			}
			env = extractEnvelope(h)
			s.sel.mbox.cacheEnvelope(t.msg.UID, env)
		}
	}
	var bs imap.BodyStructure
	if opts.BodyStructure != nil {
		full, err := c.full()
		if err != nil {
			return err
		}
		bs = imapserver.ExtractBodyStructure(bytes.NewReader(full))
	}
	sections := make([][]byte, len(opts.BodySection))
	var stream *imap.FetchItemBodySection // a whole BODY[], streamed
	for i, sec := range opts.BodySection {
		if isWholeMessage(sec) && len(opts.BodySection) == 1 && c.raw == nil {
			stream = sec
			continue
		}
		b, err := c.section(sec)
		if err != nil {
			return err
		}
		sections[i] = b
	}
	binaries := make([][]byte, len(opts.BinarySection))
	for i, sec := range opts.BinarySection {
		full, err := c.full()
		if err != nil {
			return err
		}
		if err := mem.take(int64(len(full))); err != nil {
			return err
		}
		binaries[i] = imapserver.ExtractBinarySection(bytes.NewReader(full), sec)
		if err := mem.adjust(int64(len(full)), int64(len(binaries[i]))); err != nil {
			return err
		}
	}
	binSizes := make([]uint32, len(opts.BinarySectionSize))
	for i, sec := range opts.BinarySectionSize {
		full, err := c.full()
		if err != nil {
			return err
		}
		binSizes[i] = imapserver.ExtractBinarySectionSize(bytes.NewReader(full), sec)
	}
	var body io.ReadCloser
	if stream != nil {
		rc, _, err := f.Open(t.msg.UID)
		if err != nil {
			return err
		}
		body = rc
		defer rc.Close()
	}

	rw := w.CreateMessage(t.seq)
	if opts.UID {
		rw.WriteUID(imap.UID(t.msg.UID))
	}
	if opts.Flags {
		rw.WriteFlags(imapFlags(t.msg.Flags))
	}
	if opts.InternalDate {
		rw.WriteInternalDate(t.msg.Date)
	}
	if opts.RFC822Size {
		rw.WriteRFC822Size(t.msg.Size)
	}
	if env != nil {
		rw.WriteEnvelope(env)
	}
	if bs != nil {
		rw.WriteBodyStructure(bs)
	}
	for i, sec := range opts.BodySection {
		if sec == stream {
			if err := writeStream(rw.WriteBodySection(sec, t.msg.Size), body, t.msg.Size); err != nil {
				rw.Close()
				return fmt.Errorf("imapd: fetch uid %d: %w", t.msg.UID, err)
			}
			continue
		}
		if err := writeLiteral(rw.WriteBodySection(sec, int64(len(sections[i]))), sections[i]); err != nil {
			rw.Close()
			return err
		}
	}
	for i, sec := range opts.BinarySection {
		if err := writeLiteral(rw.WriteBinarySection(sec, int64(len(binaries[i]))), binaries[i]); err != nil {
			rw.Close()
			return err
		}
	}
	for i, sec := range opts.BinarySectionSize {
		rw.WriteBinarySectionSize(sec, binSizes[i])
	}
	return rw.Close()
}

func writeLiteral(wc io.WriteCloser, b []byte) error {
	if _, err := wc.Write(b); err != nil {
		wc.Close()
		return err
	}
	return wc.Close()
}

// writeStream copies exactly size bytes; a short file is padded so the
// literal stays well-formed (the store guarantees Size, so this is only a
// guard against a file changed behind its back).
func writeStream(wc io.WriteCloser, r io.Reader, size int64) error {
	buf := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(buf)
	n, err := io.CopyBuffer(wc, io.LimitReader(r, size), *buf)
	if err == nil && n < size {
		_, err = io.CopyBuffer(wc, io.LimitReader(zeroReader{}, size-n), *buf)
	}
	if cerr := wc.Close(); err == nil {
		err = cerr
	}
	return err
}

// copyBuffers are the buffers whole messages are streamed through (io.Copy
// would allocate 32 KiB per message).
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

func isWholeMessage(sec *imap.FetchItemBodySection) bool {
	return len(sec.Part) == 0 && sec.Specifier == imap.PartSpecifierNone && sec.Partial == nil
}

func isHeaderOnly(sec *imap.FetchItemBodySection) bool {
	return len(sec.Part) == 0 && sec.Specifier == imap.PartSpecifierHeader
}

// content loads a message's header and body at most once per FETCH,
// accounting what it loads in mem.
type content struct {
	f    *maildir.Folder
	uid  uint32
	size int64
	mem  *cmdMemory
	hdr  []byte
	raw  []byte
	h    *textproto.Header
}

func (c *content) header() ([]byte, error) {
	if c.hdr == nil {
		if c.raw != nil {
			if i := bytes.Index(c.raw, []byte("\r\n\r\n")); i >= 0 {
				c.hdr = c.raw[:i+4]
				return c.hdr, nil
			}
		}
		h, err := c.f.Header(c.uid)
		if err != nil {
			return nil, err
		}
		if err := c.mem.take(int64(len(h))); err != nil {
			return nil, err
		}
		c.hdr = h
	}
	return c.hdr, nil
}

// envelopeHeader returns the header fields ENVELOPE is made of: from the
// header already loaded for this FETCH, else from the folder's header
// cache (no message file read).
func (c *content) envelopeHeader() (fieldGetter, error) {
	if c.h != nil || c.hdr != nil || c.raw != nil {
		h, err := c.parsedHeader()
		return &h, err
	}
	raw, err := c.f.EnvelopeHeader(c.uid)
	if err != nil {
		return nil, err
	}
	if f, ok := splitEnvelopeFields(raw); ok {
		return &f, nil
	}
	br := headerReaders.Get().(*bufio.Reader)
	br.Reset(bytes.NewReader(raw))
	h, err := textproto.ReadHeader(br)
	br.Reset(nil)
	headerReaders.Put(br)
	if err != nil {
		return &textproto.Header{}, nil // malformed: an empty envelope, not an error
	}
	return &h, nil
}

// headerReaders are reused to parse the cached header fields of one
// message after another (a fresh buffer for each was a large part of an
// ENVELOPE fetch's garbage).
var headerReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}

func (c *content) parsedHeader() (textproto.Header, error) {
	if c.h == nil {
		raw, err := c.header()
		if err != nil {
			return textproto.Header{}, err
		}
		h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(raw)))
		if err != nil {
			h = textproto.Header{} // malformed: an empty envelope, not an error
		}
		c.h = &h
	}
	return *c.h, nil
}

func (c *content) full() ([]byte, error) {
	if c.raw == nil {
		if err := c.mem.take(c.size); err != nil {
			return nil, err
		}
		raw, err := readAll(c.f, c.uid)
		if err != nil {
			return nil, fmt.Errorf("imapd: read uid %d: %w", c.uid, err)
		}
		if err := c.mem.adjust(c.size, int64(len(raw))); err != nil {
			return nil, err
		}
		c.raw = raw
	}
	return c.raw, nil
}

func (c *content) section(sec *imap.FetchItemBodySection) ([]byte, error) {
	var src []byte
	var err error
	if isHeaderOnly(sec) {
		src, err = c.header()
	} else {
		src, err = c.full()
	}
	if err != nil {
		return nil, err
	}
	// The section is at most its source; accounted as that until its
	// real size is known.
	if err := c.mem.take(int64(len(src))); err != nil {
		return nil, err
	}
	b := imapserver.ExtractBodySection(bytes.NewReader(src), sec)
	if err := c.mem.adjust(int64(len(src)), int64(len(b))); err != nil {
		return nil, err
	}
	return b, nil
}
