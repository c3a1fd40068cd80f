package main

import (
	"strings"
	"testing"
)

// TestParseWireResp: the responses imap-stress's tap must understand, and
// some it must refuse.
func TestParseWireResp(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // wireResp.String(), or "error"
	}{
		{"* 3 EXISTS\r\n", "* 3 EXISTS"},
		{"* 0 RECENT\r\n", "* 0 RECENT"},
		{"* 12 EXPUNGE\r\n", "* 12 EXPUNGE"},
		{`* FLAGS (\Answered \Seen $s1x0)` + "\r\n", `* FLAGS (\Answered \Seen $s1x0)`},
		{`* OK [PERMANENTFLAGS (\Seen \*)] Limited` + "\r\n", `* OK [PERMANENTFLAGS (\Seen \*)] Limited`},
		{"* OK [UIDVALIDITY 1712345678] UIDs valid\r\n", "* OK [UIDVALIDITY 1712345678] UIDs valid"},
		{"* OK [CLOSED]\r\n", "* OK [CLOSED]"},
		{"* OK [ALERT] text with (unbalanced paren and \"quote\r\n", "* OK [ALERT] text with (unbalanced paren and \"quote"},
		{"* OK [CAPABILITY IMAP4rev1 SASL-IR LITERAL+ ID] Dovecot ready.\r\n", "* OK [CAPABILITY IMAP4rev1 SASL-IR LITERAL+ ID] Dovecot ready."},
		{"T12 OK [APPENDUID 38505 3955] APPEND completed\r\n", "T12 OK [APPENDUID 38505 3955] APPEND completed"},
		{"T13 OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n", "T13 OK [COPYUID 38505 304,319:320 3956:3958] Done"},
		{"T14 NO [EXPUNGEISSUED] Some of the requested messages no longer exist\r\n", "T14 NO [EXPUNGEISSUED] Some of the requested messages no longer exist"},
		{"T15 BAD\r\n", "T15 BAD"},
		{"+ idling\r\n", "+ + idling"},
		{`* 1 FETCH (UID 5 FLAGS (\Seen $a))` + "\r\n", `* 1 FETCH (UID 5 FLAGS (\Seen $a))`},
		{"* 2 FETCH (BODY[] {5}\r\nhello UID 7)\r\n", `* 2 FETCH (BODY[] "hello" UID 7)`},
		{"* 2 FETCH (BODY[HEADER.FIELDS (MESSAGE-ID)] {3}\r\nabc)\r\n", `* 2 FETCH (BODY[HEADER.FIELDS (MESSAGE-ID)] "abc")`},
		{"* 2 FETCH (BODY[]<0> ~{2}\r\nxy)\r\n", `* 2 FETCH (BODY[]<0> "xy")`},
		{`* 3 FETCH (ENVELOPE ("Mon, 2 Mar 2026" "a \"b\"" NIL NIL NIL NIL NIL NIL NIL "<id@x>"))` + "\r\n",
			`* 3 FETCH (ENVELOPE ("Mon, 2 Mar 2026" "a \"b\"" NIL NIL NIL NIL NIL NIL NIL "<id@x>"))`},
		{"* LIST (\\HasNoChildren) \"/\" {6}\r\nSt ess\r\n", `* LIST (\HasNoChildren) "/" "St ess"`},
		{"* 1 FETCH (UID\r\n", "error"},
		{"* 1 FETCH (FLAGS (\\Seen)\r\n", "error"},
		{"* 1 FETCH (UID 5 \"open\r\n", "error"},
		{"T1 FETCH 1\r\n", "error"},
		{"\r\n", "error"},
	} {
		r, err := parseWireResp([]byte(tc.in))
		got := "error"
		if err == nil {
			got = r.String()
		}
		if got != tc.want {
			t.Errorf("parse %q:\n got %s (%v)\nwant %s", tc.in, got, err, tc.want)
		}
	}
}

// TestRespParserSplits: a stream cut anywhere (inside literals too, whose
// contents look like responses and literal sizes) gives the same
// responses, in order.
func TestRespParserSplits(t *testing.T) {
	stream := "* 2 EXISTS\r\n" +
		"* 1 FETCH (UID 4 BODY[] {23}\r\n* 9 EXPUNGE\r\nfake {3}\r\n)\r\n" +
		"* 2 FETCH (UID 6 FLAGS ())\r\n" +
		"T3 OK done\r\n"
	want := []string{"* 2 EXISTS", `* 1 FETCH (UID 4 BODY[] "* 9 EXPUNGE\r\nfake {3}\r\n")`, "* 2 FETCH (UID 6 FLAGS ())", "T3 OK done"}
	for step := 1; step <= len(stream); step++ {
		var got []string
		p := respParser{
			handle: func(r *wireResp) { got = append(got, r.String()) },
			bad:    func(raw []byte, err error) { t.Errorf("step %d: bad %q: %v", step, raw, err) },
		}
		for i := 0; i < len(stream); i += step {
			p.feed([]byte(stream[i:min(i+step, len(stream))]))
		}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("fed %d bytes at a time:\n got %q\nwant %q", step, got, want)
		}
		if len(p.buf) != 0 {
			t.Errorf("step %d: %q left over", step, p.buf)
		}
	}
}
