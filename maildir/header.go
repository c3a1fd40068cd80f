package maildir

import "strings"

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
