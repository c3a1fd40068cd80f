package pop3d

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// dotWriter writes the body of a multi-line response (RFC 1939 §3): every
// line that begins with "." gets one more ".", and Close ends the body
// with CRLF (if the last line lacks one) and the "." line.
type dotWriter struct {
	w   *bufio.Writer
	bol bool // at the beginning of a line
}

// Write copies p with dot stuffing. Errors are those of the underlying
// buffered writer (a failed flush).
func (d *dotWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if d.bol && p[0] == '.' {
			d.w.WriteByte('.')
		}
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			d.w.Write(p)
			d.bol = false
			break
		}
		d.w.Write(p[:i+1])
		d.bol = true
		p = p[i+1:]
	}
	if _, err := d.w.Write(nil); err != nil {
		return 0, err
	}
	return n, nil
}

// Close terminates the multi-line response.
func (d *dotWriter) Close() error {
	if !d.bol {
		d.w.WriteString("\r\n")
	}
	_, err := d.w.WriteString(".\r\n")
	return err
}

// copyTop copies the header block (through the empty line) and then at
// most n lines of the body.
func copyTop(w io.Writer, r *bufio.Reader, n uint64) error {
	inHeader := true
	lineStart := true
	for {
		if !inHeader && lineStart && n == 0 {
			return nil
		}
		chunk, err := r.ReadSlice('\n')
		if len(chunk) > 0 {
			if inHeader && lineStart && (string(chunk) == "\r\n" || string(chunk) == "\n") {
				inHeader = false
			} else if !inHeader && lineStart {
				n--
			}
			if _, werr := w.Write(chunk); werr != nil {
				return werr
			}
			lineStart = chunk[len(chunk)-1] == '\n'
		}
		switch {
		case err == nil, errors.Is(err, bufio.ErrBufferFull):
		case errors.Is(err, io.EOF):
			return nil
		default:
			return err
		}
	}
}
