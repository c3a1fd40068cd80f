package imapd

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"postern/maildir"
)

// searchScratch holds the buffers a SEARCH reads and lower-cases
// messages into for BODY and TEXT, reused from one message to the next,
// so a search over thousands of messages holds two buffers of the
// largest one instead of making garbage of each. Their size is
// accounted in mem.
type searchScratch struct {
	mem   *cmdMemory // nil: not accounted
	raw   []byte
	lower []byte
	// needles caches the lower-cased BODY and TEXT strings of the
	// program (at most MaxSearchKeys).
	needles map[string][]byte
}

// needle returns s lower-cased, made once per search (sc may be nil).
func (sc *searchScratch) needle(s string) []byte {
	if sc == nil {
		return []byte(strings.ToLower(s))
	}
	n, ok := sc.needles[s]
	if !ok {
		if sc.needles == nil {
			sc.needles = make(map[string][]byte)
		}
		n = []byte(strings.ToLower(s))
		sc.needles[s] = n
	}
	return n
}

// reserve makes *buf able to hold n bytes, accounting the growth.
func (sc *searchScratch) reserve(buf *[]byte, n int) error {
	if cap(*buf) >= n {
		return nil
	}
	if sc.mem != nil {
		if err := sc.mem.take(int64(n - cap(*buf))); err != nil {
			return err
		}
	}
	*buf = make([]byte, 0, n)
	return nil
}

// read returns the message uid of f, size bytes long, in the raw
// buffer (valid until the next read).
func (sc *searchScratch) read(f *maildir.Folder, uid uint32, size int64) ([]byte, error) {
	if err := sc.reserve(&sc.raw, int(size)); err != nil {
		return nil, err
	}
	rc, _, err := f.Open(uid)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	buf := sc.raw[:size]
	n, err := io.ReadFull(rc, buf)
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		err = nil // shorter than the store said: search what is there
	}
	if err != nil {
		return nil, fmt.Errorf("imapd: search: read uid %d: %w", uid, err)
	}
	return buf[:n], nil
}

// lowerOf returns src lower-cased as strings.ToLower does it (invalid
// UTF-8 becomes U+FFFD) in the lower buffer (valid until the next call).
func (sc *searchScratch) lowerOf(src []byte) ([]byte, error) {
	// Lower-casing can lengthen a few runes (U+0130 is 2 bytes, its
	// lower case 3); an eighth more covers text made of nothing else
	// only rarely, and then append grows the buffer (accounted below).
	if err := sc.reserve(&sc.lower, len(src)+len(src)/8); err != nil {
		return nil, err
	}
	was := cap(sc.lower)
	sc.lower = appendLower(sc.lower[:0], src)
	if grown := cap(sc.lower) - was; grown > 0 && sc.mem != nil {
		if err := sc.mem.take(int64(grown)); err != nil {
			sc.lower = nil
			sc.mem.adjust(int64(was), 0)
			return nil, err
		}
	}
	return sc.lower, nil
}

// appendLower appends src lower-cased to dst, rune by rune as
// strings.ToLower does, with an ASCII fast path.
func appendLower(dst, src []byte) []byte {
	for i := 0; i < len(src); {
		c := src[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(src[i:])
		dst = utf8.AppendRune(dst, unicode.ToLower(r))
		i += n
	}
	return dst
}
