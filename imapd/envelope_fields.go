package imapd

import (
	"bytes"
	"strings"

	"postern/maildir"
)

// envelopeKeys are the header fields an ENVELOPE is made of, in the
// order of envelopeFields.vals: the ones the store's header cache keeps.
var envelopeKeys = maildir.EnvelopeFields

// envelopeFields holds the first value of each field of envelopeKeys, as
// textproto.ReadHeader and Header.Get would give it.
type envelopeFields struct {
	vals [len(envelopeKeys)]string
}

// Get returns the value of k (one of envelopeKeys, any case), "" when
// absent.
func (f *envelopeFields) Get(k string) string {
	for i, key := range envelopeKeys {
		if strings.EqualFold(k, key) {
			return f.vals[i]
		}
	}
	return ""
}

// splitEnvelopeFields reads the envelope fields of a well-formed header
// block (CRLF line ends, "Key: value" lines with continuation lines,
// ending with a blank line) without building a textproto.Header, which
// allocates a 256-byte line and a field for every field and was the
// largest remaining cost of an ENVELOPE fetch. ok is false for anything
// else (a bare CR or LF, a line without a colon or with a malformed key,
// a leading continuation line, no blank line), which the caller parses
// with textproto.ReadHeader as before.
func splitEnvelopeFields(raw []byte) (f envelopeFields, ok bool) {
	var seen [len(envelopeKeys)]bool
	const none = -2 // before the first field
	cur := none     // index in envelopeKeys of the field being read; -1 for another field
	var parts [][]byte
	flush := func() { // ends the field being read
		if cur >= 0 && !seen[cur] {
			seen[cur] = true
			f.vals[cur] = joinFolded(parts)
		}
		parts = parts[:0]
	}
	for {
		i := bytes.Index(raw, crlf)
		if i < 0 {
			return f, false // no blank line
		}
		line := raw[:i]
		raw = raw[i+2:]
		if bytes.IndexByte(line, '\r') >= 0 || bytes.IndexByte(line, '\n') >= 0 {
			return f, false
		}
		if len(line) == 0 {
			flush()
			return f, true
		}
		if line[0] == ' ' || line[0] == '\t' {
			if cur == none {
				return f, false // the first line cannot continue anything
			}
			parts = append(parts, line)
			continue
		}
		flush()
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return f, false
		}
		key := line[:colon]
		for _, c := range key {
			if c < 33 || c > 126 {
				return f, false
			}
		}
		cur = -1
		for k := range envelopeKeys {
			if bytes.EqualFold(key, envelopeKeyBytes[k]) {
				cur = k
				break
			}
		}
		parts = append(parts, line[colon+1:])
	}
}

// crlf ends a header line.
var crlf = []byte("\r\n")

// envelopeKeyBytes are envelopeKeys as bytes.
var envelopeKeyBytes = func() (b [len(envelopeKeys)][]byte) {
	for i, k := range envelopeKeys {
		b[i] = []byte(k)
	}
	return b
}()

// joinFolded is textproto's value of a folded field: every line trimmed
// of spaces and tabs, empty ones dropped, joined by single spaces.
func joinFolded(parts [][]byte) string {
	var b strings.Builder
	for _, p := range parts {
		p = bytes.Trim(p, " \t")
		if len(p) == 0 {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.Write(p)
	}
	return b.String()
}
