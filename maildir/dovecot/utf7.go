package dovecot

import (
	"encoding/base64"
	"errors"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Modified UTF-7 (RFC 3501 section 5.1.3), the encoding Dovecot uses for
// folder names on disk in a Maildir++ tree (mailbox_list_utf8 = no).
// Printable ASCII stands for itself except "&", written "&-"; every other
// run of characters is "&" + base64 of its UTF-16BE with "," for "/" and
// no padding + "-".

var mutf7 = base64.NewEncoding("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,").WithPadding(base64.NoPadding)

var errUTF7 = errors.New("dovecot: invalid modified UTF-7")

// encodeUTF7 encodes a UTF-8 string in modified UTF-7. Invalid UTF-8 bytes
// are encoded as U+FFFD.
func encodeUTF7(s string) string {
	var b strings.Builder
	var run []uint16
	flush := func() {
		if len(run) == 0 {
			return
		}
		raw := make([]byte, 0, 2*len(run))
		for _, u := range run {
			raw = append(raw, byte(u>>8), byte(u))
		}
		b.WriteByte('&')
		b.WriteString(mutf7.EncodeToString(raw))
		b.WriteByte('-')
		run = run[:0]
	}
	for _, r := range s {
		if r >= 0x20 && r <= 0x7e {
			flush()
			if r == '&' {
				b.WriteString("&-")
			} else {
				b.WriteRune(r)
			}
			continue
		}
		if r1, r2 := utf16.EncodeRune(r); r1 != utf8.RuneError {
			run = append(run, uint16(r1), uint16(r2))
		} else {
			run = append(run, uint16(r))
		}
	}
	flush()
	return b.String()
}

// decodeUTF7 decodes modified UTF-7 into UTF-8. It refuses what a strict
// encoder would never produce (so decode and encode are inverse): bad
// base64, odd byte counts, unpaired surrogates, encoded printable ASCII,
// raw bytes outside printable ASCII, and "&-" sequences adjacent runs.
func decodeUTF7(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if c < 0x20 || c > 0x7e {
			return "", errUTF7
		}
		if c != '&' {
			b.WriteByte(c)
			i++
			continue
		}
		end := strings.IndexByte(s[i+1:], '-')
		if end < 0 {
			return "", errUTF7
		}
		enc := s[i+1 : i+1+end]
		i += end + 2
		if enc == "" {
			b.WriteByte('&')
			continue
		}
		raw, err := mutf7.DecodeString(enc)
		if err != nil || len(raw)%2 != 0 || mutf7.EncodeToString(raw) != enc {
			return "", errUTF7
		}
		units := make([]uint16, len(raw)/2)
		for j := range units {
			units[j] = uint16(raw[2*j])<<8 | uint16(raw[2*j+1])
		}
		for j := 0; j < len(units); j++ {
			u := units[j]
			switch {
			case utf16.IsSurrogate(rune(u)):
				if u >= 0xdc00 || j+1 >= len(units) {
					return "", errUTF7
				}
				r := utf16.DecodeRune(rune(u), rune(units[j+1]))
				if r == utf8.RuneError {
					return "", errUTF7
				}
				b.WriteRune(r)
				j++
			case u >= 0x20 && u <= 0x7e:
				return "", errUTF7 // printable ASCII must stand for itself
			default:
				b.WriteRune(rune(u))
			}
		}
		// Two encoded runs back to back must have been one run.
		if i < len(s) && s[i] == '&' && i+1 < len(s) && s[i+1] != '-' {
			return "", errUTF7
		}
	}
	return b.String(), nil
}
