package main

// The wire tap of imap-stress: every byte the server sends passes through
// tapConn.Read, which parses complete responses and hands them, in the
// order they came, to the session model before imapclient sees them.
//
// Why not imapclient's UnilateralDataHandler alone: in go-imap v2 beta.8
// the handler sees only what no pending command claims (EXISTS during
// SELECT, EXPUNGE during EXPUNGE and FETCH results go to the command), and
// its Fetch callback runs in a new goroutine (imapclient/fetch.go:636), so
// a FETCH and the EXPUNGE after it can reach a model in either order. A
// state model keyed by sequence numbers needs the exact wire order, so it
// reads the wire itself; imapclient still drives the commands and parses
// the replies the client acts on (tagged status, APPENDUID, COPYUID).

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// wireKind is the kind of one token of a server response.
type wireKind uint8

// The kinds of tokens.
const (
	wireAtom   wireKind = iota // atom or number (NIL included)
	wireString                 // quoted string or literal
	wireList                   // parenthesized list
)

// wireToken is one parsed token of a server response.
type wireToken struct {
	kind wireKind
	text string      // atom or string value
	list []wireToken // list elements
}

// isNil reports whether t is the atom NIL.
func (t wireToken) isNil() bool { return t.kind == wireAtom && strings.EqualFold(t.text, "NIL") }

// wireResp is one complete server response.
type wireResp struct {
	// tag is "*" for untagged data, "+" for a continuation request,
	// else the command tag.
	tag string
	// num is the number in front of EXISTS, RECENT, EXPUNGE and FETCH.
	num    uint32
	hasNum bool
	// typ is the upper-cased response type (OK, NO, EXISTS, FETCH, ...).
	typ string
	// code and codeArgs are the resp-text-code of a status response
	// (OK/NO/BAD/BYE/PREAUTH), code upper-cased; text is its text.
	code     string
	codeArgs []wireToken
	text     string
	// args are the tokens after the type of a data response.
	args []wireToken
}

// String shows the response without literals' contents, for reports.
func (r *wireResp) String() string {
	var b strings.Builder
	b.WriteString(r.tag)
	if r.hasNum {
		fmt.Fprintf(&b, " %d", r.num)
	}
	b.WriteString(" " + r.typ)
	if r.code != "" {
		b.WriteString(" [" + r.code)
		for _, t := range r.codeArgs {
			b.WriteString(" " + t.String())
		}
		b.WriteString("]")
	}
	if r.text != "" {
		b.WriteString(" " + r.text)
	}
	for _, t := range r.args {
		b.WriteString(" " + t.String())
	}
	return b.String()
}

// String prints a token in IMAP syntax, long strings shortened.
func (t wireToken) String() string {
	switch t.kind {
	case wireString:
		if len(t.text) > 40 {
			return fmt.Sprintf("{%d}", len(t.text))
		}
		return strconv.Quote(t.text)
	case wireList:
		parts := make([]string, len(t.list))
		for i, x := range t.list {
			parts[i] = x.String()
		}
		return "(" + strings.Join(parts, " ") + ")"
	default:
		return t.text
	}
}

// wireMaxResponse bounds one buffered response (literals included); the
// stress appends and fetches messages of a few KiB.
const wireMaxResponse = 64 << 20

// respParser splits the server's byte stream into responses and calls
// handle for each, in order. A response it cannot parse goes to bad.
type respParser struct {
	buf    []byte
	handle func(*wireResp)
	bad    func(raw []byte, err error)
}

// feed adds bytes read from the server and dispatches every response
// they complete.
func (p *respParser) feed(b []byte) {
	p.buf = append(p.buf, b...)
	used := 0
	for {
		end, ok := responseEnd(p.buf[used:])
		if !ok {
			break
		}
		raw := p.buf[used : used+end]
		used += end
		r, err := parseWireResp(raw)
		if err != nil {
			if p.bad != nil {
				p.bad(raw, err)
			}
			continue
		}
		p.handle(r)
	}
	if used > 0 {
		p.buf = append(p.buf[:0], p.buf[used:]...)
	}
	if len(p.buf) > wireMaxResponse {
		if p.bad != nil {
			p.bad(p.buf[:80], fmt.Errorf("response longer than %d bytes", wireMaxResponse))
		}
		p.buf = p.buf[:0]
	}
}

// responseEnd returns the length of the first complete response in b: a
// line, and for every line ending in a literal's {n} the n bytes after it
// and the line that follows.
func responseEnd(b []byte) (int, bool) {
	i := 0
	for {
		j := bytes.Index(b[i:], []byte("\r\n"))
		if j < 0 {
			return 0, false
		}
		line := b[i : i+j]
		n, ok := literalSize(line)
		if !ok {
			return i + j + 2, true
		}
		next := i + j + 2 + n
		if next > len(b) {
			return 0, false
		}
		i = next
	}
}

// literalSize returns n when line ends with "{n}", "{n+}" or "~{n}".
func literalSize(line []byte) (int, bool) {
	if len(line) < 3 || line[len(line)-1] != '}' {
		return 0, false
	}
	open := bytes.LastIndexByte(line, '{')
	if open < 0 {
		return 0, false
	}
	digits := strings.TrimSuffix(string(line[open+1:len(line)-1]), "+")
	n, err := strconv.Atoi(digits)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// wireScanner reads tokens from one complete response.
type wireScanner struct {
	b []byte
	i int
}

// errWireEnd is a response that ends inside a token.
var errWireEnd = errors.New("unexpected end of response")

// peek returns the next byte, 0 at the end.
func (s *wireScanner) peek() byte {
	if s.i >= len(s.b) {
		return 0
	}
	return s.b[s.i]
}

// skipSP moves past spaces.
func (s *wireScanner) skipSP() {
	for s.i < len(s.b) && s.b[s.i] == ' ' {
		s.i++
	}
}

// atEOL reports whether only the final CRLF (or nothing) is left.
func (s *wireScanner) atEOL() bool {
	s.skipSP()
	return s.i >= len(s.b) || s.b[s.i] == '\r' || s.b[s.i] == '\n'
}

// restOfLine returns the text up to the next CRLF and moves past it.
func (s *wireScanner) restOfLine() string {
	j := bytes.Index(s.b[s.i:], []byte("\r\n"))
	if j < 0 {
		t := string(s.b[s.i:])
		s.i = len(s.b)
		return t
	}
	t := string(s.b[s.i : s.i+j])
	s.i += j + 2
	return t
}

// isAtomStop reports the bytes that end an atom outside brackets.
func isAtomStop(c byte) bool {
	switch c {
	case ' ', '(', ')', '"', '\r', '\n', ']', '{':
		return true
	}
	return c < ' ' || c == 0x7f
}

// token reads one token.
func (s *wireScanner) token() (wireToken, error) {
	s.skipSP()
	if s.i >= len(s.b) {
		return wireToken{}, errWireEnd
	}
	switch c := s.b[s.i]; {
	case c == '(':
		s.i++
		var list []wireToken
		for {
			s.skipSP()
			if s.i >= len(s.b) {
				return wireToken{}, errWireEnd
			}
			if s.b[s.i] == ')' {
				s.i++
				return wireToken{kind: wireList, list: list}, nil
			}
			t, err := s.token()
			if err != nil {
				return wireToken{}, err
			}
			list = append(list, t)
		}
	case c == '"':
		s.i++
		var v []byte
		for {
			if s.i >= len(s.b) {
				return wireToken{}, errWireEnd
			}
			c := s.b[s.i]
			s.i++
			switch c {
			case '"':
				return wireToken{kind: wireString, text: string(v)}, nil
			case '\\':
				if s.i >= len(s.b) {
					return wireToken{}, errWireEnd
				}
				v = append(v, s.b[s.i])
				s.i++
			case '\r', '\n':
				return wireToken{}, errors.New("line end inside a quoted string")
			default:
				v = append(v, c)
			}
		}
	case c == '{' || (c == '~' && s.i+1 < len(s.b) && s.b[s.i+1] == '{'):
		if c == '~' {
			s.i++
		}
		end := bytes.Index(s.b[s.i:], []byte("}\r\n"))
		if end < 0 {
			return wireToken{}, errors.New("bad literal")
		}
		n, err := strconv.Atoi(strings.TrimSuffix(string(s.b[s.i+1:s.i+end]), "+"))
		if err != nil || n < 0 {
			return wireToken{}, fmt.Errorf("bad literal size %q", s.b[s.i+1:s.i+end])
		}
		start := s.i + end + 3
		if start+n > len(s.b) {
			return wireToken{}, errWireEnd
		}
		s.i = start + n
		return wireToken{kind: wireString, text: string(s.b[start : start+n])}, nil
	default:
		start := s.i
		for s.i < len(s.b) {
			c := s.b[s.i]
			if c == '[' { // BODY[HEADER.FIELDS (A B)]<0>: the section belongs to the atom
				end := bytes.IndexByte(s.b[s.i:], ']')
				if end < 0 {
					return wireToken{}, errors.New("unclosed [ in atom")
				}
				s.i += end + 1
				continue
			}
			if isAtomStop(c) {
				break
			}
			s.i++
		}
		if s.i == start {
			return wireToken{}, fmt.Errorf("unexpected %q", s.b[s.i])
		}
		return wireToken{kind: wireAtom, text: string(s.b[start:s.i])}, nil
	}
}

// parseWireResp parses one complete response (as responseEnd delimits it).
func parseWireResp(raw []byte) (*wireResp, error) {
	s := &wireScanner{b: raw}
	r := &wireResp{}
	if s.peek() == '+' {
		r.tag, r.typ = "+", "+"
		s.i++
		r.text = strings.TrimSpace(s.restOfLine())
		return r, nil
	}
	tag, err := s.token()
	if err != nil || tag.kind != wireAtom {
		return nil, fmt.Errorf("no tag: %v", err)
	}
	r.tag = tag.text
	typ, err := s.token()
	if err != nil || typ.kind != wireAtom {
		return nil, fmt.Errorf("no response type: %v", err)
	}
	r.typ = strings.ToUpper(typ.text)
	if n, err := strconv.ParseUint(r.typ, 10, 32); err == nil && r.tag == "*" {
		r.num, r.hasNum = uint32(n), true
		typ, err := s.token()
		if err != nil || typ.kind != wireAtom {
			return nil, fmt.Errorf("no type after number %d: %v", n, err)
		}
		r.typ = strings.ToUpper(typ.text)
	}
	switch r.typ {
	case "OK", "NO", "BAD", "BYE", "PREAUTH":
		s.skipSP()
		if s.peek() == '[' {
			s.i++
			code, err := s.token()
			if err != nil || code.kind != wireAtom {
				return nil, fmt.Errorf("bad response code: %v", err)
			}
			r.code = strings.ToUpper(code.text)
			for {
				s.skipSP()
				if s.i >= len(s.b) {
					return nil, errWireEnd
				}
				if s.b[s.i] == ']' {
					s.i++
					break
				}
				t, err := s.token()
				if err != nil {
					// Free text up to "]" (e.g. [ALERT] variants).
					end := bytes.IndexByte(s.b[s.i:], ']')
					if end < 0 {
						return nil, fmt.Errorf("in [%s]: %v", r.code, err)
					}
					s.i += end + 1
					break
				}
				r.codeArgs = append(r.codeArgs, t)
			}
		}
		r.text = strings.TrimSpace(s.restOfLine())
		return r, nil
	}
	if r.tag != "*" {
		return nil, fmt.Errorf("tagged response %q is not OK, NO or BAD", r.typ)
	}
	for !s.atEOL() {
		t, err := s.token()
		if err != nil {
			return nil, fmt.Errorf("in %s: %v", r.typ, err)
		}
		r.args = append(r.args, t)
	}
	return r, nil
}

// tapConn is a connection whose incoming bytes are also parsed into
// responses for the session model, synchronously in Read: when imapclient
// has read a tagged reply, the model has seen everything before it.
type tapConn struct {
	net.Conn
	// prefix is served before the connection's data and not parsed: the
	// greeting imapclient expects after a STARTTLS done by hand.
	prefix []byte
	parser respParser
}

// Read reads from the connection and feeds what it got to the parser.
func (t *tapConn) Read(b []byte) (int, error) {
	if len(t.prefix) > 0 {
		n := copy(b, t.prefix)
		t.prefix = t.prefix[n:]
		return n, nil
	}
	n, err := t.Conn.Read(b)
	if n > 0 {
		t.parser.feed(b[:n])
	}
	return n, err
}
