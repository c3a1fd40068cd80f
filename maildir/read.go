package maildir

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"postern/maildir/dovecot"
)

// Reading a message: its content and its header (the ENVELOPE fields
// come from the header cache, headercache.go).

// entryFor returns a copy of the entry of uid.
func (f *Folder) entryFor(uid uint32) (entry, error) {
	f.awaitDeferred()
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.checkLocked(); err != nil {
		return entry{}, err
	}
	i := f.find(uid)
	if i < 0 {
		return entry{}, fmt.Errorf("maildir: uid %d: %w", uid, ErrNotFound)
	}
	return f.msgs[i], nil
}

// Open returns the content of message uid with CRLF line ends; it yields
// exactly Message.Size bytes.
func (f *Folder) Open(uid uint32) (io.ReadCloser, Message, error) {
	for attempt := 0; ; attempt++ {
		e, err := f.entryFor(uid)
		if err != nil {
			return nil, Message{}, err
		}
		fh, err := os.Open(f.path(e.name()))
		if errors.Is(err, os.ErrNotExist) && attempt == 0 {
			if err := f.Rescan(); err != nil {
				return nil, Message{}, err
			}
			continue
		}
		if err != nil {
			return nil, Message{}, ioErr("maildir: open message", err)
		}
		f.mu.Lock()
		m := f.message(&e)
		f.mu.Unlock()
		st, err := fh.Stat()
		if err != nil || st.Size() != e.vsize {
			// Stored with bare LF (Dovecot): served with CRLF.
			cr := dovecot.NewCRLFReader(fh)
			return copyCloser{Reader: io.LimitReader(cr, e.vsize), close: func() error {
				cr.Release()
				return fh.Close()
			}}, m, nil
		}
		return copyCloser{Reader: io.LimitReader(fh, e.vsize), close: fh.Close}, m, nil
	}
}

// Header returns the header block of message uid, with its blank line,
// with CRLF line ends.
func (f *Folder) Header(uid uint32) ([]byte, error) {
	rc, _, err := f.Open(uid)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var out []byte
	buf := make([]byte, 4096)
	for {
		n, err := rc.Read(buf)
		out = append(out, buf[:n]...)
		if i := strings.Index(string(out), "\r\n\r\n"); i >= 0 {
			return out[:i+4], nil
		}
		if strings.HasPrefix(string(out), "\r\n") {
			return out[:2], nil
		}
		if err != nil {
			return out, nil
		}
	}
}

// copyCloser pairs a reader with a close function.
type copyCloser struct {
	io.Reader
	close func() error
}

func (c copyCloser) Close() error { return c.close() }
