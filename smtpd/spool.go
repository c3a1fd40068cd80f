package smtpd

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sync"
)

// memSpoolLimit is how much of a message is kept in memory; larger
// messages go to a temporary file.
const memSpoolLimit = 1 << 20

// spoolBuffers recycles the in-memory spools of small messages.
var spoolBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// spool holds one received message until it is delivered: in memory up to
// memSpoolLimit, then in an unlinked temporary file.
type spool struct {
	mem  *bytes.Buffer
	file *os.File
	size int64
}

func newSpool() *spool {
	b := spoolBuffers.Get().(*bytes.Buffer)
	b.Reset()
	return &spool{mem: b}
}

// Write appends p, moving the message to a file once it outgrows memory.
func (s *spool) Write(p []byte) (int, error) {
	if s.file == nil && s.mem.Len()+len(p) > memSpoolLimit {
		f, err := os.CreateTemp("", "postern-smtpd-*")
		if err != nil {
			return 0, fmt.Errorf("spool: %w", err)
		}
		os.Remove(f.Name()) // unlinked: gone when closed, even after a crash
		if _, err := f.Write(s.mem.Bytes()); err != nil {
			f.Close()
			return 0, fmt.Errorf("spool: %w", err)
		}
		s.file = f
	}
	var n int
	var err error
	if s.file != nil {
		n, err = s.file.Write(p)
		if err != nil {
			err = fmt.Errorf("spool: %w", err)
		}
	} else {
		n, _ = s.mem.Write(p)
	}
	s.size += int64(n)
	return n, err
}

// reader returns a new reader over the whole message.
func (s *spool) reader() io.Reader {
	if s.file != nil {
		return io.NewSectionReader(s.file, 0, s.size)
	}
	return bytes.NewReader(s.mem.Bytes())
}

// close releases the spool.
func (s *spool) close() {
	if s.file != nil {
		s.file.Close()
		s.file = nil
	}
	if s.mem != nil && s.mem.Cap() <= 2*memSpoolLimit {
		spoolBuffers.Put(s.mem)
	}
	s.mem = nil
}
