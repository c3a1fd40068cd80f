package queue

import (
	"bytes"
	"strings"
	"testing"
)

func TestReadMessageLineEnds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"Subject: a\r\n\r\nbody\r\n", "Subject: a\r\n\r\nbody\r\n"},
		{"Subject: a\n\nbody\n", "Subject: a\r\n\r\nbody\r\n"},
		{"Subject: a\r\n\r\nbare\rcr\r\n", "Subject: a\r\n\r\nbare\r\ncr\r\n"},
		{"Subject: a\r\n\r\nno final newline", "Subject: a\r\n\r\nno final newline\r\n"},
		{"mixed\r\nends\nhere\r", "mixed\r\nends\r\nhere\r\n"},
		{"", ""},
	} {
		got, err := readMessage(strings.NewReader(tc.in), 1<<20)
		if err != nil || string(got) != tc.want {
			t.Errorf("readMessage(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestQuoteTXT(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 255) + strings.Repeat("b", 255) + "c"
	for _, tc := range []struct{ in, want string }{
		{"v=DKIM1; k=ed25519; p=x", `"v=DKIM1; k=ed25519; p=x"`},
		{strings.Repeat("a", 255), `"` + strings.Repeat("a", 255) + `"`},
		{long, `"` + strings.Repeat("a", 255) + `" "` + strings.Repeat("b", 255) + `" "c"`},
	} {
		if got := QuoteTXT(tc.in); got != tc.want {
			t.Errorf("QuoteTXT(%d bytes) = %q", len(tc.in), got)
		}
	}
}

func TestDomainOf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"bob@Example.ORG", "example.org"},
		{"bob@bücher.test", "xn--bcher-kva.test"},
		{"a@b@c.test.", "c.test"},
	} {
		if got := domainOf(tc.in); got != tc.want {
			t.Errorf("domainOf(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestNeedsUTF8(t *testing.T) {
	t.Parallel()
	body := []byte("Subject: plain\r\n\r\nGrüße im Text sind 8BITMIME, nicht SMTPUTF8\r\n")
	if needsUTF8("a@b.test", []string{"c@d.test"}, body) {
		t.Error("8-bit body counted as needing SMTPUTF8")
	}
	if !needsUTF8("a@b.test", []string{"jöran@d.test"}, body) {
		t.Error("non-ASCII recipient not detected")
	}
	if !needsUTF8("a@b.test", nil, []byte("Subject: Grüße\r\n\r\nx\r\n")) {
		t.Error("non-ASCII header not detected")
	}
}

// FuzzReadMessage: whatever is submitted, what is queued has only CRLF
// line ends, ends with CRLF, and normalising again changes nothing.
func FuzzReadMessage(f *testing.F) {
	for _, s := range []string{"a\r\nb\r\n", "a\nb", "\r\r\n\n", "x\r", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := readMessage(bytes.NewReader(in), 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if !isCRLF(out) || (len(out) > 0 && !bytes.HasSuffix(out, []byte("\r\n"))) {
			t.Fatalf("%q -> %q", in, out)
		}
		again, _ := readMessage(bytes.NewReader(out), 1<<20)
		if !bytes.Equal(again, out) {
			t.Fatalf("not idempotent: %q -> %q -> %q", in, out, again)
		}
	})
}

func TestValidPath(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		addr string
		null bool
		want bool
	}{
		{"a@b.test", false, true},
		{"jöran@bücher.test", false, true},
		{"", true, true},
		{"", false, false},
		{"nodomain", false, false},
		{"@b.test", false, false},
		{"a@", false, false},
		{"a b@c.test", false, false},
		{"a@b.test>\r\nRCPT TO:<x@y.test", false, false},
		{strings.Repeat("a", 250) + "@b.test", false, false},
	} {
		if got := validPath(tc.addr, tc.null); got != tc.want {
			t.Errorf("validPath(%q, %v) = %v", tc.addr, tc.null, got)
		}
	}
}
