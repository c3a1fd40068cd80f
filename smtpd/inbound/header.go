package inbound

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// MaxHeaderBytes bounds the header block read from a message; a longer
// one is an error (ErrHeaderTooLong).
const MaxHeaderBytes = 1 << 20

// ErrHeaderTooLong is returned when no blank line ends the header within
// MaxHeaderBytes.
var ErrHeaderTooLong = errors.New("inbound: header block too long")

// ReadHeader returns the raw header block at the start of r, up to and
// including the blank line that ends it (or all of r when there is no
// body), byte for byte. The reader it returns yields what follows.
func ReadHeader(r io.Reader) ([]byte, *bufio.Reader, error) {
	br := bufio.NewReader(r)
	var raw []byte
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			raw = append(raw, line...)
			if len(raw) > MaxHeaderBytes {
				return nil, nil, ErrHeaderTooLong
			}
			continue
		}
		raw = append(raw, line...)
		if len(raw) > MaxHeaderBytes {
			return nil, nil, ErrHeaderTooLong
		}
		if errors.Is(err, io.EOF) {
			return raw, br, nil
		}
		if err != nil {
			return nil, nil, fmt.Errorf("inbound: read header: %w", err)
		}
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			return raw, br, nil
		}
	}
}

// field is one header field as it was received.
type field struct {
	raw  []byte // the whole field, continuation lines and CRLF included
	name string // the name, as written
}

// value returns the field's value with folding undone.
func (f field) value() string {
	_, v, _ := strings.Cut(string(f.raw), ":")
	return strings.TrimSpace(strings.NewReplacer("\r\n", "", "\n", "").Replace(v))
}

// splitFields cuts a raw header block into its fields; the blank line
// that ends it (and anything not shaped like a field) is returned last
// as a field without a name, so that joining every raw part gives back
// the block unchanged.
func splitFields(block []byte) []field {
	var out []field
	for len(block) > 0 {
		end := 0
		for {
			i := bytes.IndexByte(block[end:], '\n')
			if i < 0 {
				end = len(block)
				break
			}
			end += i + 1
			if end >= len(block) || (block[end] != ' ' && block[end] != '\t') {
				break
			}
		}
		raw := block[:end]
		name, _, ok := bytes.Cut(raw, []byte(":"))
		f := field{raw: raw}
		if ok && len(bytes.TrimSpace(name)) > 0 && !bytes.ContainsAny(name, " \t\r\n") {
			f.name = string(name)
		}
		out = append(out, f)
		block = block[end:]
	}
	return out
}

// values returns the values of every field named name, top to bottom.
func values(fields []field, name string) []string {
	var out []string
	for _, f := range fields {
		if strings.EqualFold(f.name, name) {
			out = append(out, f.value())
		}
	}
	return out
}
