package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"mime"
	"strings"
	"time"
)

// Sizes of generated messages, in bytes on disk (LF line ends).
const (
	genMinSize = 2 << 10
	genMaxSize = 20 << 10
)

// genEpoch is the newest Date a generated message carries; messages go
// back about a year from it, one every few minutes, in order.
var genEpoch = time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)

var (
	genFirst = []string{"Anna", "Ben", "Chloé", "David", "Elif", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kasia", "Luis", "Maya", "Noor", "Olga", "Pierre"}
	genLast  = []string{"Schmidt", "Okafor", "Dubois", "Tanaka", "Yılmaz", "Novak", "García", "Kowalski", "Rossi", "Berg", "Haddad", "Lindqvist"}
	genOrgs  = []string{"example.com", "lists.example.net", "mail.example.org", "corp.example", "news.example.com", "uni.example.edu"}
	genTopic = []string{"quarterly report", "lunch on Friday", "invoice 2026-%04d", "re: build failure on main", "your order #%06d has shipped",
		"meeting notes", "holiday photos", "[dev] patch v%d: fix the parser", "reminder: dentist", "weekly newsletter no. %d",
		"contract draft", "password reset requested", "Fwd: flight booking %06d", "plans for the weekend", "CI results for #%d"}
	genWords = strings.Fields(`the of and to in is that for it as was with be by on not he this are or his from at which but have an
		they you were her she there been one all we their has would when if so no what can more out up about into them some could
		him time only new my than then its also two like other me these our over just may any first do after most should where
		mail server folder message inbox please thanks regards tomorrow attached report review meeting schedule project
		release budget draft update question answer friday monday week month year team customer order invoice payment`)
)

// genMessage returns message number i (from 0) of a generated mailbox for
// the address to (of n, dated about five minutes apart up to genEpoch): realistic headers (Return-Path, two Received, From, To,
// sometimes Cc, Subject, Date, Message-ID, MIME headers), LF line ends, a
// body filling it to a size between genMinSize and genMaxSize, and every
// third message multipart (text and HTML alternatives, some with a base64
// attachment). The same r state gives the same message.
func genMessage(r *rand.Rand, i, n int, to string) (msg []byte, date time.Time) {
	date = genEpoch.Add(-time.Duration(n-i)*5*time.Minute + time.Duration(r.IntN(240))*time.Second)
	target := genMinSize + r.IntN(genMaxSize-genMinSize+1)
	from := genPerson(r)
	var b bytes.Buffer
	b.Grow(target + 1024)
	relay := genOrgs[r.IntN(len(genOrgs))]
	fmt.Fprintf(&b, "Return-Path: <%s>\n", from.addr)
	fmt.Fprintf(&b, "Received: from mx.%s (mx.%s [192.0.2.%d])\n\tby mail.bench.test (Postern) with ESMTPS id %08X\n\tfor <%s>; %s\n",
		relay, relay, 1+r.IntN(254), r.Uint32(), to, date.Add(2*time.Second).Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Received: from [198.51.100.%d] (helo=client.%s)\n\tby mx.%s with ESMTPSA id %08X;\n\t%s\n",
		1+r.IntN(254), relay, relay, r.Uint32(), date.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "From: %s\n", from)
	fmt.Fprintf(&b, "To: %s\n", to)
	if r.IntN(3) == 0 {
		var cc []string
		for range 1 + r.IntN(3) {
			cc = append(cc, genPerson(r).String())
		}
		fmt.Fprintf(&b, "Cc: %s\n", strings.Join(cc, ",\n "))
	}
	subject := genTopic[r.IntN(len(genTopic))]
	if strings.Contains(subject, "%") {
		subject = fmt.Sprintf(subject, r.IntN(10000))
	}
	fmt.Fprintf(&b, "Subject: %s\n", subject)
	fmt.Fprintf(&b, "Date: %s\n", date.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%d.%08x@%s>\n", i, r.Uint32(), relay)
	b.WriteString("MIME-Version: 1.0\n")
	if i%3 != 2 {
		b.WriteString("Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n")
		genText(r, &b, target-b.Len())
		return b.Bytes(), date
	}
	boundary := fmt.Sprintf("=_bench_%08x", r.Uint32())
	attach := r.IntN(2) == 0
	outer := "alternative"
	if attach {
		outer = "mixed"
	}
	fmt.Fprintf(&b, "Content-Type: multipart/%s; boundary=\"%s\"\n\nThis is a multi-part message in MIME format.\n\n", outer, boundary)
	rest := target - b.Len() - 400
	textPart, htmlPart := rest/2, rest/2
	if attach {
		textPart, htmlPart = rest/3, 0
	}
	fmt.Fprintf(&b, "--%s\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n", boundary)
	genText(r, &b, textPart)
	if htmlPart > 0 {
		fmt.Fprintf(&b, "\n--%s\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n<html><body>\n<p>", boundary)
		genText(r, &b, htmlPart-40)
		b.WriteString("</p>\n</body></html>\n")
	} else {
		fmt.Fprintf(&b, "\n--%s\nContent-Type: application/pdf; name=\"doc%d.pdf\"\nContent-Disposition: attachment; filename=\"doc%d.pdf\"\nContent-Transfer-Encoding: base64\n\n", boundary, i, i)
		raw := make([]byte, max(target-b.Len()-100, 60)*3/4)
		for k := range raw {
			raw[k] = byte(r.Uint32())
		}
		enc := base64.StdEncoding.EncodeToString(raw)
		for len(enc) > 76 {
			b.WriteString(enc[:76])
			b.WriteByte('\n')
			enc = enc[76:]
		}
		b.WriteString(enc)
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "\n--%s--\n", boundary)
	return b.Bytes(), date
}

// genText appends about n bytes of wrapped words, ending with a newline.
func genText(r *rand.Rand, b *bytes.Buffer, n int) {
	end := b.Len() + max(n, 20)
	line := 0
	for b.Len() < end {
		w := genWords[r.IntN(len(genWords))]
		if line+len(w) > 72 {
			b.WriteByte('\n')
			line = 0
		} else if line > 0 {
			b.WriteByte(' ')
			line++
		}
		b.WriteString(w)
		line += len(w)
	}
	b.WriteByte('\n')
}

// genAddr is a display name and an address.
type genAddr struct{ name, addr string }

// String is the header form, the name RFC 2047-encoded when not ASCII.
func (a genAddr) String() string {
	return fmt.Sprintf("%s <%s>", mime.QEncoding.Encode("utf-8", a.name), a.addr)
}

// genPerson returns a random correspondent.
func genPerson(r *rand.Rand) genAddr {
	first, last := genFirst[r.IntN(len(genFirst))], genLast[r.IntN(len(genLast))]
	local := strings.ToLower(first[:1] + "." + last)
	local = strings.Map(func(c rune) rune {
		if c < 'a' || c > 'z' {
			if c == '.' {
				return c
			}
			return 'x'
		}
		return c
	}, local)
	return genAddr{first + " " + last, local + "@" + genOrgs[r.IntN(len(genOrgs))]}
}
