package imapd

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"net/mail"
	"reflect"
	"strings"
	"testing"
	"time"

	imap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-message/textproto"
)

// commonDateSeeds are Date values of real and broken mail.
var commonDateSeeds = []string{
	"Mon, 2 Jan 2006 15:04:05 -0700",
	"Tue, 02 Jan 2006 15:04:05 +0000",
	"2 Jan 2006 15:04:05 +0130",
	"Wed, 29 Feb 2024 23:59:59 -1200",
	"Thu, 29 Feb 2023 10:00:00 +0000",
	"Fri, 31 Apr 2026 10:00:00 +0000",
	"Sat, 1 Mar 2026 24:00:00 +0000",
	"Sun, 1 Mar 2026 10:60:00 +0000",
	"Sun, 1 Mar 2026 10:00:60 +0000",
	"Sun, 1 Mar 2026 10:00:00 +2400",
	"Sun, 1 Mar 2026 10:00:00 +0060",
	"Mon, 1 Mar 2026 10:00:00 +0000 (UTC)",
	"Mon, 1 Mar 2026 10:00:00 +0000 (Coordinated (Universal) Time)",
	"Mon, 1 Mar 2026 10:00:00 +0000(UTC)",
	"Mon, 1 Mar 2026 10:00:00 GMT",
	"Mon, 1 Mar 2026 10:00 +0000",
	"Mon, 1 Mar 26 10:00:00 +0000",
	"Xyz, 1 Mar 2026 10:00:00 +0000",
	"Mon,  1 Mar 2026 10:00:00 +0000",
	"Mon, 1 mar 2026 10:00:00 +0000",
	"Mon, 0 Mar 2026 10:00:00 +0000",
	"Mon, 1 Mar 0099 10:00:00 +0000",
	"1 Mar 2026 10:00:00 -0000",
	"",
	"garbage",
}

// checkCommonDate fails when parseCommonDate accepts s but net/mail does
// not, or they differ in instant or zone offset (all an ENVELOPE shows).
func checkCommonDate(t *testing.T, s string) {
	got, ok := parseCommonDate(s)
	if !ok {
		return
	}
	want, err := mail.ParseDate(s)
	if err != nil {
		t.Fatalf("%q: fast path gave %v, net/mail refuses it: %v", s, got, err)
	}
	_, go1 := got.Zone()
	_, wo := want.Zone()
	if !got.Equal(want) || go1 != wo {
		t.Fatalf("%q: fast path %v, net/mail %v", s, got, want)
	}
}

// TestParseCommonDate: the Date fast path agrees with net/mail.ParseDate
// on every date it accepts, accepts the usual forms, and leaves odd ones
// to net/mail.
func TestParseCommonDate(t *testing.T) {
	for _, s := range commonDateSeeds {
		checkCommonDate(t, s)
	}
	for _, s := range []string{"Mon, 2 Jan 2006 15:04:05 -0700", "2 Jan 2006 15:04:05 +0130", "Mon, 1 Mar 2026 10:00:00 +0000 (UTC)"} {
		if _, ok := parseCommonDate(s); !ok {
			t.Errorf("%q not taken by the fast path", s)
		}
	}
	for _, s := range []string{"Mon, 1 Mar 2026 10:00:00 GMT", "Fri, 31 Apr 2026 10:00:00 +0000", "Mon, 1 Mar 26 10:00:00 +0000"} {
		if _, ok := parseCommonDate(s); ok {
			t.Errorf("%q taken by the fast path", s)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	layouts := []string{"Mon, 2 Jan 2006 15:04:05 -0700", "Mon, 02 Jan 2006 15:04:05 -0700", "2 Jan 2006 15:04:05 -0700", "Mon, 2 Jan 2006 15:04:05 -0700 (MST)"}
	for range 20000 {
		zone := time.FixedZone("", (r.IntN(28*60)-14*60)*60)
		tm := time.Unix(r.Int64N(4102444800), 0).In(zone)
		s := tm.Format(layouts[r.IntN(len(layouts))])
		if _, ok := parseCommonDate(s); !ok {
			t.Fatalf("%q not taken by the fast path", s)
		}
		checkCommonDate(t, s)
	}
}

// FuzzParseCommonDate: whatever the fast path accepts, net/mail parses
// to the same instant and offset.
func FuzzParseCommonDate(f *testing.F) {
	for _, s := range commonDateSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkCommonDate(t, s) })
}

// TestExtractEnvelopeMatchesLibrary: extractEnvelope gives the library's
// envelope for generated and odd headers.
func TestExtractEnvelopeMatchesLibrary(t *testing.T) {
	headers := []string{
		"Date: Mon, 2 Jan 2006 15:04:05 -0700\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nFrom: =?utf-8?q?Chlo=C3=A9?= Dubois <c.dubois@example.com>\r\n" +
			"To: anna@bench.test, Ben <ben@example.org>\r\nCc: undisclosed-recipients:;\r\nMessage-ID: <1.2@x>\r\nIn-Reply-To: <0.1@x> <0.2@x>\r\n\r\n",
		"Date: Mon, 1 Mar 2026 10:00:00 GMT\r\nFrom: broken\r\nSender: a@b\r\nReply-To: c@d\r\nBcc: e@f\r\n\r\n",
		"Date: garbage\r\nSubject: plain\r\n\r\n",
		"Subject: no date\r\n\r\n",
		"\r\n",
	}
	for i := range 30 {
		headers = append(headers, fmt.Sprintf("Date: %s\r\nFrom: P %d <p%d@example.org>\r\nTo: q@example.net\r\nSubject: s %d\r\n\r\n",
			commonDateSeeds[i%len(commonDateSeeds)], i, i, i))
	}
	for _, raw := range headers {
		h, err := textproto.ReadHeader(bufio.NewReader(strings.NewReader(raw)))
		if err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		want := imapserver.ExtractEnvelope(h)
		sameEnvelope(t, raw, extractEnvelope(&h), want)
		f, ok := splitEnvelopeFields([]byte(raw))
		if !ok {
			t.Fatalf("%q: not taken by the header fast path", raw)
		}
		sameEnvelope(t, raw, extractEnvelope(&f), want)
	}
}

// sameEnvelope fails unless got and want are equal (dates by instant and
// offset).
func sameEnvelope(t *testing.T, raw string, got, want *imap.Envelope) {
	t.Helper()
	_, go1 := got.Date.Zone()
	_, wo := want.Date.Zone()
	if !got.Date.Equal(want.Date) || go1 != wo {
		t.Errorf("%q: date %v, library %v", raw, got.Date, want.Date)
	}
	g, w := *got, *want
	g.Date, w.Date = time.Time{}, time.Time{}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%q:\n got %+v\nwant %+v", raw, g, w)
	}
}

// headerSeeds are header blocks, well-formed and not.
var headerSeeds = []string{
	"Date: Mon, 2 Jan 2006 15:04:05 -0700\r\nSubject:  folded\r\n  subject \r\n\tagain\r\nFrom: a@b\r\nX-Other: x\r\n\r\n",
	"subject: first\r\nSUBJECT: second\r\nmessage-id: <1@x>\r\n\r\n",
	"Subject:\r\nSubject: second\r\n\r\n",
	"To: a@b,\r\n\r\n c@d\r\n\r\n",
	" leading: space\r\n\r\n",
	"No colon\r\n\r\n",
	"Key : spaced\r\n\r\n",
	":empty key\r\n\r\n",
	"Subject: bare\nlf\r\n\r\n",
	"Subject: bare\rcr\r\n\r\n",
	"Subject: no blank line\r\n",
	"\r\n",
	"",
}

// FuzzEnvelopeFields: whatever the header fast path accepts, textproto
// reads without error and to the same envelope fields.
func FuzzEnvelopeFields(f *testing.F) {
	for _, s := range headerSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		fields, ok := splitEnvelopeFields([]byte(raw))
		if !ok {
			return
		}
		h, err := textproto.ReadHeader(bufio.NewReader(strings.NewReader(raw)))
		if err != nil {
			t.Fatalf("%q: fast path took it, textproto: %v", raw, err)
		}
		for _, k := range envelopeKeys {
			if got, want := fields.Get(k), h.Get(k); got != want {
				t.Fatalf("%q: %s = %q, textproto %q", raw, k, got, want)
			}
		}
	})
}

// TestEnvelopeFieldsSeeds runs the header seeds and checks which take the
// fast path.
func TestEnvelopeFieldsSeeds(t *testing.T) {
	for i, raw := range headerSeeds {
		_, ok := splitEnvelopeFields([]byte(raw))
		if want := i < 4 || i == 11; ok != want {
			t.Errorf("%q: fast path %v, want %v", raw, ok, want)
		}
	}
}

// addressSeeds are address lists of real and broken mail.
var addressSeeds = []string{
	"anna@bench.test",
	"Ben Okafor <b.okafor@example.org>",
	"Ben  Okafor   <b.okafor@example.org>, c@d.example,  <e@f>",
	"=?utf-8?q?Chlo=C3=A9?= Dubois <c.dubois@example.com>",
	"\"Dubois, Chloé\" <c@example.com>",
	"J. Smith <j@example.com>",
	"a..b@example.com",
	".a@example.com",
	"a@example..com",
	"a@[192.0.2.1]",
	"undisclosed-recipients:;",
	"a@b, , c@d",
	"a@b,",
	"<>",
	"Name <a@b",
	"Name a@b>",
	"a@b (comment)",
	"a@b@c",
	"Ünïcode <u@example.com>",
	"Tab\tName <t@example.com>",
	"<a@b> <c@d>",
	"x <a@b>>",
	"",
}

// checkSimpleAddresses fails when the fast path accepts v and differs from
// the library.
func checkSimpleAddresses(t *testing.T, v string) {
	got, ok := parseSimpleAddresses(v)
	if !ok {
		return
	}
	if want := libraryAddresses(v); !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: fast path %+v, library %+v", v, got, want)
	}
}

// TestSimpleAddresses: the address fast path agrees with the library on
// every list it accepts and takes the usual forms.
func TestSimpleAddresses(t *testing.T) {
	for _, v := range addressSeeds {
		checkSimpleAddresses(t, v)
	}
	for _, v := range addressSeeds[:3] {
		if _, ok := parseSimpleAddresses(v); !ok {
			t.Errorf("%q not taken by the fast path", v)
		}
	}
	for _, v := range []string{addressSeeds[3], addressSeeds[4], "undisclosed-recipients:;", "a@b (comment)"} {
		if _, ok := parseSimpleAddresses(v); ok {
			t.Errorf("%q taken by the fast path", v)
		}
	}
}

// FuzzSimpleAddresses: whatever the fast path accepts, the library
// parses to the same addresses.
func FuzzSimpleAddresses(f *testing.F) {
	for _, v := range addressSeeds {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) { checkSimpleAddresses(t, v) })
}
