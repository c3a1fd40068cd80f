package pop3d

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
)

func TestDotWriter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		chunks []string // written one Write call each
		want   string
	}{
		{"empty", nil, ".\r\n"},
		{"one line", []string{"a\r\n"}, "a\r\n.\r\n"},
		{"no final CRLF", []string{"a\r\nb"}, "a\r\nb\r\n.\r\n"},
		{"leading dot", []string{".a\r\n"}, "..a\r\n.\r\n"},
		{"lone dot line", []string{"a\r\n.\r\nb\r\n"}, "a\r\n..\r\nb\r\n.\r\n"},
		{"dot after split CRLF", []string{"a\r", "\n", ".b\r\n"}, "a\r\n..b\r\n.\r\n"},
		{"dot at chunk start mid-line", []string{"a", ".b\r\n"}, "a.b\r\n.\r\n"},
		{"dots everywhere", []string{"..\r\n", ".\r\n", "x.\r\n"}, "...\r\n..\r\nx.\r\n.\r\n"},
		{"bare LF kept", []string{"a\n.b\n"}, "a\n..b\n.\r\n"},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		bw := bufio.NewWriter(&out)
		d := &dotWriter{w: bw, bol: true}
		for _, c := range tt.chunks {
			if n, err := d.Write([]byte(c)); n != len(c) || err != nil {
				t.Fatalf("%s: Write = %d, %v", tt.name, n, err)
			}
		}
		d.Close()
		bw.Flush()
		if out.String() != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, out.String(), tt.want)
		}
	}
}

func TestCopyTop(t *testing.T) {
	t.Parallel()
	msg := "From: a\r\nSubject: b\r\n\r\nline1\r\nline2\r\n\r\nline4\r\n"
	tests := []struct {
		msg  string
		n    uint64
		want string
	}{
		{msg, 0, "From: a\r\nSubject: b\r\n\r\n"},
		{msg, 1, "From: a\r\nSubject: b\r\n\r\nline1\r\n"},
		{msg, 3, "From: a\r\nSubject: b\r\n\r\nline1\r\nline2\r\n\r\n"},
		{msg, 4, msg},
		{msg, ^uint64(0), msg},
		{"From: a\r\n", 5, "From: a\r\n"}, // no body at all
		{"\r\nbody\r\n", 0, "\r\n"},       // empty header
		{"A: " + strings.Repeat("x", 100) + "\r\n\r\nb", 1, "A: " + strings.Repeat("x", 100) + "\r\n\r\nb"},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		// A tiny buffer exercises lines longer than the reader's buffer.
		if err := copyTop(&out, bufio.NewReaderSize(strings.NewReader(tt.msg), 16), tt.n); err != nil {
			t.Fatal(err)
		}
		if out.String() != tt.want {
			t.Errorf("copyTop(%q, %d) = %q, want %q", tt.msg, tt.n, out.String(), tt.want)
		}
	}
}
